"""Stage: the RTL backend. Model file -> a synthesizable Verilog-2001 dataflow accelerator.

    generate(model, out_dir, fold=None, board="zybo")   write out_dir atomically, return the manifest

out_dir/
    rtl/accel_top.v        the network: one block per layer, AXI4-Stream valid/ready between them
    rtl/accel_*.v          the block library (accel/rtl/lib), copied unchanged
    rtl/<layer>_w.mem ...  weight and bias ROM contents ($readmemh, bare file names)
    accel_rtl.json         the manifest: top, files, io (the DMA packing, as accel_hls.json), folds,
                           per-layer streams, multipliers and cycle estimates

Inside, pixels stream channels-last (one pixel's C codes per beat); 3x3 convolutions and pools read
windows from an accel_swu line buffer; a fire module's squeeze output forks to both expands, the
expand1x1 branch through a FIFO deep enough to wait for the expand3x3 line buffer, and
accel_concat joins them. Ports of accel_top: ap_clk, ap_rst_n (active low), s_axis_* (32-bit DMA
words in), m_axis_* (one 32-bit code per word out, TLAST per image).
"""

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accel.core import arith, atomic, kinds, stream
from accel.core.ir import QuantModel
from accel.core.modelfile import load_model
from accel.rtl import fold as folding

LIB = Path(__file__).parent / "lib"
TOP = "accel_top"
FORMAT = "accel-rtl-1"


@dataclass
class Stream:
    """A channels-last pixel stream in the top level: wires <name>_data/_last/_valid/_ready."""
    name: str
    channels: int
    bits: int
    signed: bool
    frac: int
    height: int
    width: int

    @property
    def width_bits(self) -> int:
        return self.channels * self.bits


def ident(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if re.match(r"[A-Za-z]", s) else "l_" + s


def _hex_words(words: list[int], bits: int) -> str:
    digits = max(1, -(-bits // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)


def _pack(values, bits: int) -> int:
    """Little-endian bit-pack of two's complement codes (element 0 in the low bits)."""
    word, mask = 0, (1 << bits) - 1
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * bits)
    return word


def weight_rom(layer, f: folding.Fold) -> tuple[str, str, int]:
    """($readmemh text of the weight ROM, of the bias ROM, bias bits)."""
    w = layer.weight.transpose(0, 2, 3, 1).reshape(layer.weight.shape[0], -1)  # [O][(ky,kx,c)]
    cout, n = w.shape
    wbits = layer.wtype.bits
    sf, nf = n // f.simd, cout // f.pe
    words = []
    for o in range(nf):
        for s in range(sf):
            block = w[o * f.pe:(o + 1) * f.pe, s * f.simd:(s + 1) * f.simd]  # [pe][simd]
            words.append(_pack(block.reshape(-1), wbits))
    bias = layer.bias if layer.bias is not None else np.zeros(cout, np.int64)
    bbits = layer.btype.bits if layer.btype else 2
    bwords = [_pack(bias[o * f.pe:(o + 1) * f.pe], bbits) for o in range(nf)]
    return _hex_words(words, f.pe * f.simd * wbits), _hex_words(bwords, f.pe * bbits), bbits


def _params(d: dict) -> str:
    def val(v):
        return f'"{v}"' if isinstance(v, str) else str(int(v))
    return ", ".join(f".{k}({val(v)})" for k, v in d.items())


class Netlist:
    """Collects wires, instances and per-layer records while walking the model's layers."""

    def __init__(self):
        self.wires: list[str] = []
        self.body: list[str] = []
        self.mems: dict[str, str] = {}
        self.layers: list[dict] = []

    def stream(self, name, channels, bits, signed, frac, h, w, pad=False) -> Stream:
        s = Stream(name, channels, bits, signed, frac, h, w)
        self.wires.append(f"    wire [{s.width_bits - 1}:0] {name}_data;")
        self.wires.append(f"    wire {name}_last, {name}_valid, {name}_ready;"
                          + (f"\n    wire {name}_pad;" if pad else ""))
        return s

    def inst(self, module: str, name: str, params: dict, ports: dict):
        conns = ",\n        ".join(f".{p}({w})" for p, w in ports.items())
        self.body.append(f"    {module} #({_params(params)}) {name} (\n        .clk(ap_clk), "
                         f".rst_n(ap_rst_n),\n        {conns});\n")


def _ports(prefix: str, s: Stream, pad: bool = False) -> dict:
    """Port map of a block's AXI4-Stream side `prefix` (s, m, a, b, m0, ...) on stream s."""
    d = {f"{prefix}_data": f"{s.name}_data", f"{prefix}_last": f"{s.name}_last",
         f"{prefix}_valid": f"{s.name}_valid", f"{prefix}_ready": f"{s.name}_ready"}
    if pad:
        d[f"{prefix}_pad"] = f"{s.name}_pad"
    return d


def _window(net: Netlist, src: Stream, name: str, k: int, stride: int, pads, oh: int,
            ow: int, zero_pad: bool = True) -> Stream:
    top, left = pads[0], pads[1]
    win = net.stream(name, src.channels, src.bits, src.signed, src.frac, oh, ow, pad=True)
    net.inst("accel_swu", f"u_{name}",
             dict(C=src.channels, BITS=src.bits, H=src.height, W=src.width, K=k, S=stride,
                  PT=top, PL=left, OH=oh, OW=ow, ZERO_PAD=int(zero_pad)),
             {**_ports("s", src), **_ports("m", win, pad=True)})
    return win


def conv(net: Netlist, layer, src: Stream, f: folding.Fold) -> Stream:
    lid = ident(layer.name)
    k = layer.weight.shape[2]  # square (accel.core.kinds)
    beats = folding.beats(layer)
    cout, oh, ow = layer.shape
    feed = src if beats == 1 else _window(net, src, f"{lid}_win", k, layer.stride[0],
                                         layer.pads, oh, ow)
    out = layer.out
    out_shift = layer.out_shift
    # One guard bit over layer.acc_bits, as the verified netlist (cycles, yosys estimate) has it;
    # at least OUT_SHIFT + 2 bits: accel_requant reads the remainder bits below the shift.
    acc_w = max(layer.acc_bits + 1, out_shift + 2)
    wmem, bmem, bbits = weight_rom(layer, f)
    net.mems[f"{lid}_w.mem"], net.mems[f"{lid}_b.mem"] = wmem, bmem
    lo, hi = arith.code_range(out.bits, out.signed, out.narrow)
    dst = net.stream(lid, cout, out.bits, out.signed, out.frac, oh, ow)
    net.inst("accel_mvau", f"u_{lid}",
             dict(BEATS=beats, IN_C=src.channels, IN_BITS=src.bits, IN_SIGNED=int(src.signed),
                  OUT_C=cout, PE=f.pe, SIMD=f.simd, W_BITS=layer.wtype.bits, B_BITS=bbits,
                  ACC_W=acc_w, ACC_SHIFT=layer.acc_shift, BIAS_SHIFT=layer.bias_shift,
                  OUT_SHIFT=out_shift,
                  RELU=int(layer.relu), OUT_BITS=out.bits, LO=lo, HI=hi,
                  WEIGHT_FILE=f"{lid}_w.mem", BIAS_FILE=f"{lid}_b.mem"),
             {**_ports("s", feed, pad=beats > 1), **({"s_pad": "1'b0"} if beats == 1 else {}),
              **_ports("m", dst)})
    net.layers.append(dict(name=layer.name, kind="conv", stream=lid, pe=f.pe, simd=f.simd,
                           multipliers=f.multipliers, macs=layer.macs,
                           cycles=folding.layer_cycles(layer, f), acc_bits=acc_w,
                           window=beats > 1))
    return dst


def maxpool(net: Netlist, layer, src: Stream) -> Stream:
    lid = ident(layer.name)
    k = layer.kernel[0]  # square (accel.core.kinds)
    c, oh, ow = layer.shape
    win = _window(net, src, f"{lid}_win", k, layer.stride[0], layer.pads, oh, ow,
                  zero_pad=False)
    dst = net.stream(lid, c, src.bits, src.signed, src.frac, oh, ow)
    net.inst("accel_maxpool", f"u_{lid}", dict(C=c, BITS=src.bits, SIGNED=int(src.signed),
                                                BEATS=k * k),
             {**_ports("s", win, pad=True), **_ports("m", dst)})
    net.layers.append(dict(name=layer.name, kind="maxpool", stream=lid, cycles=oh * ow * k * k))
    return dst


def concat(net: Netlist, layer, a: Stream, b: Stream) -> Stream:
    lid = ident(layer.name)
    sha, shb = layer.in_shifts
    ob = layer.out.bits  # max(bits + shift): the inputs have one signedness (accel.core.kinds)
    dst = net.stream(lid, a.channels + b.channels, ob, a.signed, layer.acc_frac, a.height, a.width)
    net.inst("accel_concat", f"u_{lid}",
             dict(CA=a.channels, BA=a.bits, SHA=sha, CB=b.channels, BB=b.bits, SHB=shb,
                  SIGNED=int(a.signed), OB=ob),
             {**_ports("a", a), **_ports("b", b), **_ports("m", dst)})
    net.layers.append(dict(name=layer.name, kind="concat", stream=lid, cycles=a.height * a.width))
    return dst


def gap(net: Netlist, layer, src: Stream) -> Stream:
    lid = ident(layer.name)
    out = layer.out
    lo, hi = arith.code_range(out.bits, out.signed, out.narrow)
    dst = net.stream(lid, src.channels, out.bits, out.signed, out.frac, 1, 1)
    net.inst("accel_gap", f"u_{lid}",
             dict(C=src.channels, BITS=src.bits, SIGNED=int(src.signed),
                  NPIX=layer.in_pixels, SH=-layer.out_shift,
                  OUT_BITS=out.bits, LO=lo, HI=hi),
             {**_ports("s", src), **_ports("m", dst)})
    net.layers.append(dict(name=layer.name, kind="gap", stream=lid,
                           cycles=src.height * src.width))
    return dst


def fork(net: Netlist, src: Stream, consumers: list, windowed: list[bool]) -> list[Stream]:
    """Split src to two consumers. A branch that starts without a line buffer gets a FIFO of two
    rows + slack: the windowed branch swallows about a row before it emits anything, and the join
    (concat) would otherwise stall the fork for good."""
    outs = []
    names = [f"{src.name}_f{i}" for i in range(2)]
    branch = [net.stream(n, src.channels, src.bits, src.signed, src.frac, src.height, src.width)
              for n in names]
    net.inst("accel_fork", f"u_{src.name}_fork", dict(W=src.width_bits),
             {**_ports("s", src), **_ports("m0", branch[0]), **_ports("m1", branch[1])})
    for s, win in zip(branch, windowed):
        if win or not any(windowed):
            outs.append(s)
            continue
        depth = 2 * src.width + 8
        q = net.stream(f"{s.name}_q", s.channels, s.bits, s.signed, s.frac, s.height, s.width)
        net.inst("accel_fifo", f"u_{s.name}_q", dict(W=s.width_bits, DEPTH=depth),
                 {**_ports("s", s), **_ports("m", q)})
        outs.append(q)
    return outs


def build_netlist(qm: QuantModel, folds: dict) -> tuple[Netlist, Stream, Stream]:
    kinds.refuse(qm, "rtl")
    net = Netlist()
    c, h, w = qm.input_shape
    it = qm.input_type
    inp = net.stream("pixels", c, it.bits, it.signed, it.frac, h, w)
    net.inst("accel_unpack", "u_unpack", dict(C=c, BITS=it.bits, VALUES=c * h * w),
             {"s_data": "s_axis_tdata", "s_last": "s_axis_tlast", "s_valid": "s_axis_tvalid",
              "s_ready": "s_axis_tready", **_ports("m", inp)})
    tensors = {qm.input_name: inp}
    pending: dict[str, list[Stream]] = {}  # fork outputs not yet consumed, per tensor

    def take(tensor: str, layer) -> Stream:
        if tensor in pending:
            return pending[tensor].pop(0)
        consumers = qm.consumers(tensor)
        if len(consumers) == 1:
            return tensors[tensor]
        windowed = [l.kind != "conv" or folding.beats(l) > 1 for l in consumers]  # two (kinds)
        pending[tensor] = fork(net, tensors[tensor], consumers, windowed)
        return pending[tensor].pop(0)

    for layer in qm.layers:
        srcs = [take(i, layer) for i in layer.inputs]
        if layer.kind == "conv":
            out = conv(net, layer, srcs[0], folds[layer.name])
        elif layer.kind == "maxpool":
            out = maxpool(net, layer, srcs[0])
        elif layer.kind == "concat":
            out = concat(net, layer, *srcs)
        else:  # gap: accel.core.kinds has refused every kind without an RTL block
            out = gap(net, layer, srcs[0])
        tensors[layer.output] = out
    res = tensors[qm.output]
    net.inst("accel_pack", "u_pack", dict(C=res.channels, BITS=res.bits, SIGNED=int(res.signed)),
             {**_ports("s", res), "m_data": "m_axis_tdata", "m_keep": "m_axis_tkeep",
              "m_last": "m_axis_tlast", "m_valid": "m_axis_tvalid", "m_ready": "m_axis_tready"})
    return net, inp, res


def profile_block(net: Netlist, words_per_image: int) -> str:
    """Simulation-only counters (`ifdef ACCEL_PROFILE; never synthesized): the cycle, each image's
    latency from its first input word to its last output word, and per stream the cycles of the
    first and last beat and the beat count. The cocotb testbench reads them; no per-cycle Python."""
    lines = ["`ifdef ACCEL_PROFILE",
             "    reg [31:0] prof_cycle, prof_latency, prof_done_cycle, prof_images;",
             "    reg [31:0] prof_start [0:63];",
             "    reg [5:0]  prof_wp, prof_rp;",
             "    reg [31:0] prof_in_words;"]
    streams = [w.split()[-1][:-len("_data;")] for w in net.wires if w.endswith("_data;")]
    for s in streams:
        lines.append(f"    reg [31:0] prof_{s}_first, prof_{s}_last, prof_{s}_beats;")
    lines += ["    always @(posedge ap_clk or negedge ap_rst_n) begin",
              "        if (!ap_rst_n) begin",
              "            prof_cycle <= 0; prof_images <= 0; prof_wp <= 0; prof_rp <= 0;",
              "            prof_in_words <= 0; prof_latency <= 0; prof_done_cycle <= 0;"]
    lines += [f"            prof_{s}_beats <= 0; prof_{s}_first <= 0; prof_{s}_last <= 0;"
              for s in streams]
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
                  "            end"]
    lines += ["        end", "    end", "`endif", ""]
    return "\n".join(lines)


def top_verilog(qm: QuantModel, net: Netlist, words_per_image: int) -> str:
    # the file name quoted (repr): a newline in it would end the comment
    return f"""// Generated by `accel rtl` from {Path(qm.path).name!r}: do not edit, regenerate.
// {len(qm.layers)} layers as a dataflow pipeline of accel/rtl/lib blocks; see accel_rtl.json.
`default_nettype none
module {TOP} (
    input  wire        ap_clk,
    input  wire        ap_rst_n,
    input  wire [31:0] s_axis_tdata,
    input  wire        s_axis_tlast,
    input  wire        s_axis_tvalid,
    output wire        s_axis_tready,
    output wire [31:0] m_axis_tdata,
    output wire [3:0]  m_axis_tkeep,
    output wire        m_axis_tlast,
    output wire        m_axis_tvalid,
    input  wire        m_axis_tready
);
{chr(10).join(net.wires)}

{chr(10).join(net.body)}
{profile_block(net, words_per_image)}endmodule
`default_nettype wire
"""


def write(model, out_dir, fold=None, board: str = "zybo", force: bool = False) -> dict:
    """Write the RTL project for a model file (path or QuantModel) into out_dir, atomically. An
    existing out_dir is replaced only when it is an `accel rtl` output or force is given."""
    qm = model if isinstance(model, QuantModel) else load_model(model)
    folds, settings = folding.load(qm, fold)
    net, inp, res = build_netlist(qm, folds)
    lib_files = sorted(LIB.glob("*.v"))
    convs = [l for l in net.layers if l["kind"] == "conv"]
    slowest = max(l["cycles"] for l in net.layers)
    mults = sum(l["multipliers"] for l in convs)
    macs = sum(l["macs"] for l in convs)
    io = stream.io_spec(qm, "ports s_axis_*", "ports m_axis_*")
    manifest = {
        "format": FORMAT, "model": str(Path(qm.path).resolve()), "board": board, "top": TOP,
        "files": ["rtl/" + f.name for f in lib_files] + [f"rtl/{TOP}.v"],
        "mem_files": ["rtl/" + m for m in sorted(net.mems)],
        "clock_port": "ap_clk", "reset_port": "ap_rst_n", "reset_active_low": True,
        "control": "none", "io": io, "fold": settings, "layers": net.layers,
        "estimate": {"multipliers": mults, "macs_per_image": macs, "slowest_layer_cycles": slowest,
                     "images_per_s": settings["clock_mhz"] * 1e6 / slowest,
                     "mac_utilization": macs / (mults * slowest)},
    }
    with atomic.output(out_dir, "rtl", force) as tmp:
        rtl = tmp / "rtl"
        rtl.mkdir()
        for f in lib_files:
            shutil.copy(f, rtl / f.name)
        (rtl / f"{TOP}.v").write_text(top_verilog(qm, net, io["input"]["words"]))
        for name, text in net.mems.items():
            (rtl / name).write_text(text)
        (tmp / "accel_rtl.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
