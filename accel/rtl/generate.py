"""Stage: the RTL backend. Model file -> a synthesizable Verilog-2001 dataflow accelerator.

    generate(model, out_dir, fold=None, board="zybo")   write out_dir atomically, return the manifest

out_dir/
    rtl/accel_top.v        the network: one block per layer, AXI4-Stream valid/ready between them
    rtl/accel_*.v          the block library (accel/rtl/lib), copied unchanged
    rtl/<layer>_w.mem ...  weight and bias ROM contents ($readmemh, bare file names)
    rtl/weights.bin        the DDR layers' weight blobs at their offsets (only with tiled folds:
                           accel.rtl.ddr), to be placed at the top's weights_base
    rtl/accel_board.v      (DDR designs) accel_top behind accel_ctrl's AXI4-Lite weights_base
                           register and run bit: the IP top the board flow packages
    accel_rtl.json         the manifest: top, files, io (the DMA packing, as accel_hls.json), folds,
                           per-layer streams, multipliers and cycle estimates

Inside, pixels stream channels-last (one pixel's C codes per beat; the classifier tail narrower:
a conv read only by the global pool emits a fold of PE codes a beat, and the pool as the net's
output a code a beat, so nothing after the last conv is C codes wide); 3x3 convolutions read
windows from an accel_swu line buffer, max-pools keep partial maxima (accel_pool; other shapes
windows into accel_maxpool); a fire module's squeeze output forks to both expands, the
expand1x1 branch through a FIFO deep enough to wait for the expand3x3 line buffer, and
accel_concat joins them. Ports of accel_top: ap_clk, ap_rst_n (active low), s_axis_* (32-bit DMA
words in), m_axis_* (one 32-bit code per word out, TLAST per image); with DDR layers also
weights_base (32-bit: the DDR address of weights.bin) and per DDR layer an AXI4 read master
m_axi_<layer>_* (ar/r channels, 64-bit data, 32-bit address).
"""

import json
import shutil
from pathlib import Path

from accel.core import atomic, stream
from accel.core.ir import QuantModel
from accel.core.modelfile import load_model
from accel.rtl import ddr, mapper, resources
from accel.rtl.netlist import (Netlist, Stream, _pack, axi_prefix,  # noqa: F401 (API)
                               build_netlist, ident, weight_rom)

LIB = Path(__file__).parent / "lib"
TOP = "accel_top"
BOARD_TOP = "accel_board"  # DDR designs: accel_top behind accel_ctrl, the IP the board flow packages
CTRL_LIB = "accel_ctrl.v"  # only DDR designs carry it (on-chip designs keep their files and keys)
CTRL_PORT = "s_axi_ctrl"
FORMAT = "accel-rtl-1"
# The DMA-facing AXI4-Stream ports, the same on accel_top and on the board top around it.
STREAM_PORTS = """    input  wire [31:0] s_axis_tdata,
    input  wire        s_axis_tlast,
    input  wire        s_axis_tvalid,
    output wire        s_axis_tready,
    output wire [31:0] m_axis_tdata,
    output wire [3:0]  m_axis_tkeep,
    output wire        m_axis_tlast,
    output wire        m_axis_tvalid,
    input  wire        m_axis_tready
"""


def profile_block(net: Netlist, words_per_image: int) -> str:
    """Simulation-only counters (`ifdef ACCEL_PROFILE; never synthesized): the cycle, each image's
    latency from its first input word to its last output word, and per stream the cycles of the
    first and last beat, the beat count and the cycles it was held (VALID without READY: its
    consumer was busy; the slowest layer is the last one whose input is held and whose output
    is not). The cocotb testbench reads them; no per-cycle Python."""
    lines = ["`ifdef ACCEL_PROFILE",
             "    reg [31:0] prof_cycle, prof_latency, prof_done_cycle, prof_images;",
             "    reg [31:0] prof_start [0:63];",
             "    reg [5:0]  prof_wp, prof_rp;",
             "    reg [31:0] prof_in_words;"]
    streams = [w.split()[-1][:-len("_data;")] for w in net.wires if w.endswith("_data;")]
    for s in streams:
        lines.append(f"    reg [31:0] prof_{s}_first, prof_{s}_last, prof_{s}_beats, "
                     f"prof_{s}_held;")
    lines += ["    always @(posedge ap_clk or negedge ap_rst_n) begin",
              "        if (!ap_rst_n) begin",
              "            prof_cycle <= 0; prof_images <= 0; prof_wp <= 0; prof_rp <= 0;",
              "            prof_in_words <= 0; prof_latency <= 0; prof_done_cycle <= 0;"]
    lines += [f"            prof_{s}_beats <= 0; prof_{s}_first <= 0; prof_{s}_last <= 0; "
              f"prof_{s}_held <= 0;" for s in streams]
    lines += ["        end else begin",
              "            prof_cycle <= prof_cycle + 1;",
              "            if (s_axis_tvalid && s_axis_tready) begin",
              "                if (prof_in_words == 0) begin",
              "                    prof_start[prof_wp] <= prof_cycle; prof_wp <= prof_wp + 1;",
              "                end",
              f"                prof_in_words <= (prof_in_words == {words_per_image - 1}) ? 0 "
              f": prof_in_words + 1;",
              "            end",
              "            if (m_axis_tvalid && m_axis_tready && m_axis_tlast) begin",
              "                prof_latency <= prof_cycle - prof_start[prof_rp] + 1;",
              "                prof_rp <= prof_rp + 1; prof_done_cycle <= prof_cycle;",
              "                prof_images <= prof_images + 1;",
              "            end"]
    for s in streams:
        lines += [f"            if ({s}_valid && {s}_ready) begin",
                  f"                if (prof_{s}_beats == 0) prof_{s}_first <= prof_cycle;",
                  f"                prof_{s}_last <= prof_cycle; prof_{s}_beats <= prof_{s}_beats + 1;",
                  "            end",
                  f"            if ({s}_valid && !{s}_ready) prof_{s}_held <= prof_{s}_held + 1;"]
    lines += ["        end", "    end", "`endif", ""]
    return "\n".join(lines)


DDR_FILE = stream.WEIGHTS_FILE


def _ddr_ports(net: Netlist) -> str:
    """The top's extra ports of DDR layers: weights_base and the AXI4 read masters (none
    without DDR layers, so on-chip designs keep their top unchanged)."""
    if not net.ports:
        return ""
    return ",\n".join(["    input  wire [31:0] weights_base", *net.ports]) + ",\n"


def ddr_manifest(net: Netlist) -> dict | None:
    """accel_rtl.json's "ddr": the weights file, the base port and per DDR layer its AXI port,
    offset, blob bytes and DDR bytes per image (accel.rtl.ddr.plan); None without DDR layers."""
    if not net.ddr:
        return None
    return {"file": f"rtl/{DDR_FILE}", "base_port": "weights_base", "align": ddr.ALIGN,
            "bytes": len(ddr.image(net.ddr, net.blobs)) if net.blobs else None,
            "bytes_per_image": sum(r["bytes_per_image"] for r in net.ddr.values()),
            "layers": [{"name": name, "port": axi_prefix(ident(name)), **r}
                       for name, r in net.ddr.items()]}


def board_manifest(net: Netlist) -> dict | None:
    """accel_rtl.json's "board_top" of a DDR design: the module the board flow packages (accel_top
    with accel_ctrl in front: the weights_base register and the run bit over AXI4-Lite) and its
    AXI4-Lite port; None for on-chip designs (their IP top is accel_top, no AXI-Lite)."""
    if not net.ddr:
        return None
    return {"module": BOARD_TOP, "file": f"rtl/{BOARD_TOP}.v", "s_axilite": CTRL_PORT,
            "addr_bits": stream.CTRL_ADDR_BITS}


def board_verilog(qm: QuantModel, net: Netlist, weight_bytes: int) -> str:
    """accel_board: accel_ctrl + accel_top. The core sits in reset until RUN (accel_ctrl), and the
    DMA streams are gated by the same signal: a word offered before RUN stays with the DMA
    instead of entering a core in reset, and no output is claimed from it."""
    p = CTRL_PORT
    lite = [("input", stream.CTRL_ADDR_BITS, "awaddr"), ("input", 1, "awvalid"),
            ("output", 1, "awready"), ("input", 32, "wdata"), ("input", 4, "wstrb"),
            ("input", 1, "wvalid"), ("output", 1, "wready"), ("output", 2, "bresp"),
            ("output", 1, "bvalid"), ("input", 1, "bready"),
            ("input", stream.CTRL_ADDR_BITS, "araddr"), ("input", 1, "arvalid"),
            ("output", 1, "arready"), ("output", 32, "rdata"), ("output", 2, "rresp"),
            ("output", 1, "rvalid"), ("input", 1, "rready")]
    ports = [f"    {d:<6} wire {f'[{b - 1}:0]' if b > 1 else '':<7}{p}_{sig}" for d, b, sig in lite]
    masters = [line.split()[-1] for line in net.ports]
    params = {"ADDR_BITS": stream.CTRL_ADDR_BITS, "OFF_CTRL": stream.CTRL_REG,
              "OFF_BASE": stream.WEIGHTS_BASE_REG, "OFF_BYTES": stream.WEIGHTS_BYTES_REG,
              "OFF_ID": stream.ID_REG, "ALIGN_BITS": stream.WEIGHTS_ALIGN.bit_length() - 1,
              "WEIGHT_BYTES": f"32'd{weight_bytes}", "ID": f"32'h{stream.CTRL_ID:08x}"}
    ctrl_ports = ", ".join(f".s_axi_{sig}({p}_{sig})" for _, _, sig in lite)
    top_ports = ", ".join(f".{m}({m})" for m in masters)
    sep = ",\n"
    return f"""// Generated by `accel rtl` from {Path(qm.path).name!r}: do not edit, regenerate.
// The board flow's IP top of a design with weights in DDR: {TOP} behind accel_ctrl (AXI4-Lite
// {p}: weights_base and the run bit, register map in accel/core/stream.py).
`default_nettype none
module {BOARD_TOP} (
    input  wire        ap_clk,
    input  wire        ap_rst_n,
{sep.join(ports)},
{sep.join(net.ports)},
{STREAM_PORTS});
    wire [31:0] weights_base;
    wire run, core_rst_n, core_s_tready, core_m_tvalid;
    accel_ctrl #({", ".join(f".{k}({v})" for k, v in params.items())}) u_ctrl (
        .clk(ap_clk), .rst_n(ap_rst_n), {ctrl_ports},
        .weights_base(weights_base), .run(run), .core_rst_n(core_rst_n));
    {TOP} u_top (
        .ap_clk(ap_clk), .ap_rst_n(core_rst_n), .weights_base(weights_base), {top_ports},
        .s_axis_tdata(s_axis_tdata), .s_axis_tlast(s_axis_tlast),
        .s_axis_tvalid(s_axis_tvalid && core_rst_n), .s_axis_tready(core_s_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tkeep(m_axis_tkeep), .m_axis_tlast(m_axis_tlast),
        .m_axis_tvalid(core_m_tvalid), .m_axis_tready(m_axis_tready));
    assign s_axis_tready = core_s_tready && core_rst_n;
    assign m_axis_tvalid = core_m_tvalid && core_rst_n;
endmodule
`default_nettype wire
"""


def top_verilog(qm: QuantModel, net: Netlist, words_per_image: int) -> str:
    # the file name quoted (repr): a newline in it would end the comment
    return f"""// Generated by `accel rtl` from {Path(qm.path).name!r}: do not edit, regenerate.
// {len(qm.layers)} layers as a dataflow pipeline of accel/rtl/lib blocks; see accel_rtl.json.
`default_nettype none
module {TOP} (
    input  wire        ap_clk,
    input  wire        ap_rst_n,
{_ddr_ports(net)}{STREAM_PORTS});
{chr(10).join(net.wires)}

{chr(10).join(net.body)}
{profile_block(net, words_per_image)}endmodule
`default_nettype wire
"""


def write(model, out_dir, fold=None, board: str = "zybo", force: bool = False,
          scale=None) -> dict:
    """Write the RTL project for a model file (path or QuantModel) into out_dir, atomically. An
    existing out_dir is replaced only when it is an `accel rtl` output or force is given.
    scale: the mapper's budget shrunk per resource (accel.rtl.fit, after yosys)."""
    atomic.check(out_dir, "rtl", force)  # a bad --out fails before any work
    qm = model if isinstance(model, QuantModel) else load_model(model)
    folds, settings = mapper.load(qm, fold, board, scale)
    net, inp, res = build_netlist(qm, folds)
    lib_files = sorted(f for f in LIB.glob("*.v") if net.ddr or f.name != CTRL_LIB)
    convs = [l for l in net.layers if l["kind"] == "conv"]
    slowest = max(l["cycles"] for l in net.layers)
    mults = sum(l["multipliers"] for l in convs)
    macs = sum(l["macs"] for l in convs)
    io = stream.io_spec(qm, "ports s_axis_*", "ports m_axis_*")
    manifest = {
        "format": FORMAT, "model": str(Path(qm.path).resolve()), "board": board, "top": TOP,
        "files": ["rtl/" + f.name for f in lib_files] + [f"rtl/{TOP}.v"]
        + ([f"rtl/{BOARD_TOP}.v"] if net.ddr else []),
        "mem_files": ["rtl/" + m for m in sorted(net.mems)],
        "clock_port": "ap_clk", "reset_port": "ap_rst_n", "reset_active_low": True,
        "control": "none", "io": io, "fold": settings, "layers": net.layers,
        "ddr": ddr_manifest(net), "board_top": board_manifest(net),
        "estimate": {"multipliers": mults, "macs_per_image": macs, "slowest_layer_cycles": slowest,
                     "images_per_s": settings["clock_mhz"] * 1e6 / slowest,
                     "mac_utilization": macs / (mults * slowest),
                     "bottleneck": max(net.layers, key=lambda l: l["cycles"])["name"],
                     "resources": resources.netlist(net)},
    }
    with atomic.output(out_dir, "rtl", force) as tmp:
        rtl = tmp / "rtl"
        rtl.mkdir()
        for f in lib_files:
            shutil.copy(f, rtl / f.name)
        (rtl / f"{TOP}.v").write_text(top_verilog(qm, net, io["input"]["words"]))
        for name, text in net.mems.items():
            (rtl / name).write_text(text)
        if net.ddr:
            (rtl / DDR_FILE).write_bytes(ddr.image(net.ddr, net.blobs))
            (rtl / f"{BOARD_TOP}.v").write_text(board_verilog(qm, net, manifest["ddr"]["bytes"]))
        (tmp / "accel_rtl.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
