"""The board flow TCL (vivado/) under plain tclsh with stub Vivado commands
(tests/data/vivado_stub.tcl records every call), and the Vivado report parsers."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from accel.core import boards
from accel.flow import vivado, vivado_reports
from accel.cli import DEFAULT_MODEL
from accel.core.errors import AccelError
from accel.core.stream import io_spec
from accel.core.modelfile import load_model

DATA = Path(__file__).parent / "data"
STUB = DATA / "vivado_stub.tcl"
pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh (Debian: tcl) missing")


class Design:
    """The recorded calls of one stubbed run."""

    def __init__(self, log: Path):
        self.calls, self.props = [], {}
        for line in log.read_text().splitlines():
            kind, *rest = [f.replace("\\t", "\t").replace("\\n", "\n") for f in line.split("\t")]
            if kind == "call":
                self.calls.append(rest)
            else:
                obj, name, value = rest
                self.props.setdefault(obj, {})[name] = value

    def called(self, cmd: str) -> list[list[str]]:
        return [c[1:] for c in self.calls if c[0] == cmd]

    def cells(self) -> dict:
        return {c[-1]: c[c.index("-vlnv") + 1] for c in self.called("create_bd_cell")}

    def nets(self, cmd="connect_bd_intf_net") -> list[tuple]:
        return [tuple(c) for c in self.called(cmd)]

    def addresses(self) -> dict:
        out = {}
        for c in self.called("assign_bd_address"):
            opt = dict(zip(c[0:6:2], c[1:6:2]))
            out[(opt["-target_address_space"], c[6])] = (opt["-offset"], opt["-range"])
        return out


def run_flow(folder: Path, board, accel: dict, installed=(), reports=True) -> Design:
    params = vivado.write(folder, board, "accel_" + board.name.replace("-", "_"), accel)
    driver = folder / "driver.tcl"
    driver.write_text(f"source {{{STUB}}}\nsource {{{folder / 'build.tcl'}}}\n")
    env = {"PATH": "/usr/bin:/bin", "STUB_LOG": str(folder / "calls.tsv"),
           "STUB_BOARD_PARTS": " ".join(installed)}
    if reports:
        env["STUB_REPORTS"] = str(DATA)
    proc = subprocess.run(["tclsh", str(driver)], cwd=folder, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    d = Design(folder / "calls.tsv")
    d.params = params
    return d


def hls_accel(zip_rel="../vitis/accel_ip.zip"):
    meta = {"top": "accel_top",
            "io": io_spec(load_model(DEFAULT_MODEL), "port 'in'", "port 'out'")}
    return vivado.accel_from_hls(meta, zip_rel), meta


RTL_TOP = """// a stand-in with the accel_rtl interface: passes words through, TLAST per 4 words
module accel_top (
    input  wire        ap_clk,
    input  wire        ap_rst_n,
    input  wire [31:0] s_axis_tdata,
    input  wire        s_axis_tvalid,
    output wire        s_axis_tready,
    input  wire        s_axis_tlast,
    output wire [31:0] m_axis_tdata,
    output wire        m_axis_tvalid,
    input  wire        m_axis_tready,
    output wire        m_axis_tlast,
    output wire [3:0]  m_axis_tkeep
);
    reg [1:0] n;
    always @(posedge ap_clk) n <= !ap_rst_n ? 2'd0 : (s_axis_tvalid && m_axis_tready) ? n + 1 : n;
    assign m_axis_tdata = s_axis_tdata;
    assign m_axis_tvalid = s_axis_tvalid;
    assign s_axis_tready = m_axis_tready;
    assign m_axis_tlast = n == 2'd3;
    assign m_axis_tkeep = 4'hf;
endmodule
"""


@pytest.fixture
def rtl_dir(tmp_path):
    d = tmp_path / "rtl"
    d.mkdir()
    (d / "accel_top.v").write_text(RTL_TOP)
    (d / "weights_conv1.mem").write_text("00\n7f\n")
    io_ = io_spec(load_model(DEFAULT_MODEL), "ports s_axis_*", "ports m_axis_*")
    meta = {"top": "accel_top", "files": ["accel_top.v"], "mem_files": ["weights_conv1.mem"],
            "io": {"input": io_["input"], "output": io_["output"]}, "control": "none"}
    (d / "accel_rtl.json").write_text(json.dumps(meta))
    return d, meta


@pytest.mark.parametrize("name", ["zybo", "zybo-z7-10", "zybo-z7-20", "pynq-z2"])
@pytest.mark.parametrize("installed", [True, False])
def test_hls_design_per_board(tmp_path, name, installed):
    board = boards.get(name)
    accel, meta = hls_accel()
    parts = [board.board_part] if installed and board.board_part else []
    d = run_flow(tmp_path / "viv", board, accel, installed=parts)

    # part and board part
    assert d.called("create_project") == [["-in_memory", "-part", board.part]]
    bp = [c for c in d.called("set_property") if c[0] == "board_part"]
    ps7 = d.props["ps7"]
    if parts:
        assert bp == [["board_part", board.board_part, "accel_project"]]
        assert "CONFIG.PCW_UIPARAM_DDR_PARTNO" not in ps7  # the board file's preset is used
        assert "apply_board_preset 1" in d.called("apply_bd_automation")[0][3]
    else:
        assert bp == []
        for k, v in board.ps7.items():  # the explicit preset, every value intact through Tcl
            assert ps7[f"CONFIG.{k}"] == v
        assert "apply_board_preset 0" in d.called("apply_bd_automation")[0][3]

    # PS7: FCLK0 = the accelerator clock, GP0 + HP0, fabric interrupts
    assert ps7["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"] == f"{board.clock_mhz:g}"
    assert ps7["CONFIG.PCW_USE_M_AXI_GP0"] == "1" and ps7["CONFIG.PCW_USE_S_AXI_HP0"] == "1"
    assert ps7["CONFIG.PCW_IRQ_F2P_INTR"] == "1"

    cells = d.cells()
    assert cells["ps7"].startswith("xilinx.com:ip:processing_system7:")
    assert cells["dma"].startswith("xilinx.com:ip:axi_dma:")
    assert cells["accel"] == "accel:hls:accel_top:1.0"
    # the DMA: simple mode, both directions, stream width = the accelerator's
    dma = d.props["dma"]
    width = meta["io"]["input"]["tdata_bits"]
    assert width == meta["io"]["output"]["tdata_bits"] == 32
    assert dma["CONFIG.c_include_sg"] == "0"
    assert dma["CONFIG.c_m_axis_mm2s_tdata_width"] == dma["CONFIG.c_s_axis_s2mm_tdata_width"] == str(width)
    assert dma["CONFIG.c_include_mm2s"] == dma["CONFIG.c_include_s2mm"] == "1"

    # streams and buses
    nets = d.nets()
    assert ("dma/M_AXIS_MM2S", "accel/in_r") in nets and ("accel/out_r", "dma/S_AXIS_S2MM") in nets
    assert ("ps7/M_AXI_GP0", "ctrl_ic/S00_AXI") in nets and ("mem_ic/M00_AXI", "ps7/S_AXI_HP0") in nets
    assert ("ctrl_ic/M01_AXI", "accel/s_axi_control") in nets
    assert d.props["ctrl_ic"]["CONFIG.NUM_MI"] == "2"
    clock_net = next(n for n in d.nets("connect_bd_net") if n[0] == "ps7/FCLK_CLK0")
    assert "accel/ap_clk" in clock_net and "dma/m_axi_mm2s_aclk" in clock_net
    reset_net = next(n for n in d.nets("connect_bd_net") if n[0] == "rst/peripheral_aresetn")
    assert "accel/ap_rst_n" in reset_net
    irq = [n for n in d.nets("connect_bd_net") if any(p.startswith("irq_concat/") for p in n)]
    assert ("accel/interrupt", "irq_concat/In2") in irq and ("irq_concat/dout", "ps7/IRQ_F2P") in irq
    assert d.props["irq_concat"]["CONFIG.NUM_PORTS"] == "3"

    # fixed addresses, recorded
    ddr = f"0x{board.ddr_mb << 20:08X}"
    assert d.addresses() == {
        ("ps7/Data", "dma/S_AXI_LITE/Reg"): ("0x40400000", "0x10000"),
        ("ps7/Data", "accel/s_axi_control/Reg"): ("0x43C00000", "0x10000"),
        ("dma/Data_MM2S", "ps7/S_AXI_HP0/HP0_DDR_LOWOCM"): ("0x00000000", ddr),
        ("dma/Data_S2MM", "ps7/S_AXI_HP0/HP0_DDR_LOWOCM"): ("0x00000000", ddr)}
    assert (tmp_path / "viv" / "addresses.txt").read_text().split("\n")[:2] == [
        "dma 0x40400000 0x10000", "accel 0x43C00000 0x10000"]

    # the HLS IP from its zip, the flow in order, exports with one base name
    add_ip = d.called("update_ip_catalog")[-1]
    assert add_ip[0] == "-add_ip" and add_ip[1].endswith("/vitis/accel_ip.zip")
    order = [c[0] for c in d.calls]
    steps = ["validate_bd_design", "generate_target", "make_wrapper", "synth_design", "opt_design",
             "place_design", "route_design", "report_utilization", "write_bitstream"]
    assert [order.index(s) for s in steps] == sorted(order.index(s) for s in steps)
    assert d.called("synth_design")[0][:4] == ["-top", "accel_bd_wrapper", "-part", board.part]
    base = "accel_" + name.replace("-", "_")
    assert d.called("write_bitstream") == [["-force", f"{base}.bit"]]
    out = vivado.outputs(tmp_path / "viv", base)
    assert out and out["bit"].stem == out["hwh"].stem == base
    assert "stub hwh" in out["hwh"].read_text()
    assert vivado_reports.utilization(out["utilization"].read_text())["DSP48E1"]["used"] == 53


def test_rtl_design_packaged_with_ipx(tmp_path, rtl_dir):
    d_rtl, meta = rtl_dir
    accel = vivado.accel_from_rtl(meta, d_rtl, "../rtl")
    assert accel["rtl_files"] == ["../rtl/accel_top.v"]
    d = run_flow(tmp_path / "viv", boards.get("zybo"), accel)
    pkg = d.called("ipx::package_project")
    assert pkg and pkg[0][pkg[0].index("-vendor") + 1] == "accel" and \
        pkg[0][pkg[0].index("-library") + 1] == "rtl"
    assert [c for c in d.called("add_files") if c[-1].endswith("rtl/accel_top.v")]
    assert d.props[next(c[-1] for c in d.called("get_files") if c[-1].endswith(".mem"))][
        "file_type"] == "Memory Initialization Files"
    assert d.props["accel_core"]["name"] == "accel_top"
    assert ["-busif", "s_axis", "-clock", "ap_clk", "accel_core"] in d.called(
        "ipx::associate_bus_interfaces")
    # packaged before the in-memory project of the block design
    order = [c[0] for c in d.calls]
    assert order.index("ipx::save_core") < order.index("create_bd_design")
    assert d.called("create_project")[-1] == ["-in_memory", "-part", "xc7z010clg400-1"]
    assert d.cells()["accel"] == "accel:rtl:accel_top:1.0"
    nets = d.nets()
    assert ("dma/M_AXIS_MM2S", "accel/s_axis") in nets and ("accel/m_axis", "dma/S_AXIS_S2MM") in nets
    assert not [n for n in nets if "s_axi_control" in " ".join(n)]  # no control port
    assert d.props["ctrl_ic"]["CONFIG.NUM_MI"] == "1"
    assert d.props["irq_concat"]["CONFIG.NUM_PORTS"] == "2"
    assert d.props["dma"]["CONFIG.c_m_axis_mm2s_tdata_width"] == "32"
    assert len(d.addresses()) == 3
    assert not [c for c in d.called("update_ip_catalog") if "-add_ip" in c]


def test_rtl_width_must_match_its_json(tmp_path, rtl_dir):
    d_rtl, meta = rtl_dir
    for side in ("input", "output"):
        meta["io"][side]["tdata_bits"] = 64
    with pytest.raises(AccelError, match="s_axis_tdata is 32 bits, accel_rtl.json says 64"):
        vivado.accel_from_rtl(meta, d_rtl, "../rtl")
    meta["io"]["output"]["tdata_bits"] = 32
    with pytest.raises(AccelError, match="one width"):
        vivado.accel_from_rtl(meta, d_rtl, "../rtl")
    (d_rtl / "accel_top.v").unlink()
    with pytest.raises(AccelError, match="missing"):
        vivado.accel_from_rtl(dict(meta, io={"input": {"tdata_bits": 32},
                                             "output": {"tdata_bits": 32}}), d_rtl, "../rtl")


def test_params_tcl_quoting():
    assert vivado.tcl_word("xc7z010clg400-1") == "xc7z010clg400-1"
    assert vivado.tcl_word("MIO 48 .. 49") == "{MIO 48 .. 49}"
    assert vivado.tcl_word("") == "{}" and vivado.tcl_word([]) == "{}"
    assert vivado.tcl_word(["a b", "c"]) == "{{a b} c}"
    with pytest.raises(AccelError):
        vivado.tcl_word("x}; exec rm -rf /; {")


# ---------------------------------------------------------------------------------------------
# report parsers

def test_utilization_report():
    u = vivado_reports.utilization((DATA / "utilization.rpt").read_text())
    assert u["LUT"] == {"used": 11342, "available": 17600, "percent": 64.44}
    assert u["FF"]["used"] == 14876 and u["LUTRAM"]["used"] == 1155
    assert u["BRAM36"] == {"used": 27.5, "available": 60, "percent": 45.83}
    assert (u["RAMB36"]["used"], u["RAMB18"]["used"]) == (21, 13)
    assert u["DSP48E1"] == {"used": 53, "available": 80, "percent": 66.25}


def test_utilization_report_without_prohibited_column():
    old = []
    for line in (DATA / "utilization.rpt").read_text().splitlines():
        cells = line.split("|")
        if len(cells) == 8:  # drop the 'Prohibited' column (Vivado before 2019.x)
            del cells[4]
        elif line.startswith("+") and line.count("+") == 7:
            line = "+".join(line.split("+")[:4] + line.split("+")[5:])
        old.append("|".join(cells) if len(cells) in (7, 8) else line)
    u = vivado_reports.utilization("\n".join(old))
    assert u["LUT"]["used"] == 11342 and u["DSP48E1"]["available"] == 80
    with pytest.raises(ValueError, match="DSP48E1"):
        vivado_reports.utilization("\n".join(old).replace("DSPs", "Foo "))


def test_timing_report_met_and_failing():
    text = (DATA / "timing_summary.rpt").read_text()
    t = vivado_reports.timing(text)
    assert (t["wns_ns"], t["tns_ns"], t["failing_endpoints"], t["whs_ns"]) == (1.372, 0.0, 0, 0.021)
    assert t["met"] and t["clocks"] == {"clk_fpga_0": {"period_ns": 10.0, "mhz": 100.0}}
    assert t["fmax_mhz"] == pytest.approx(1000 / (10 - 1.372), abs=0.1)
    bad = text.replace("      1.372        0.000                      0                38642",
                       "     -0.512      -12.300                     42                38642", 1)
    bad = bad.replace("All user specified timing constraints are met.",
                      "Timing constraints are not met.")
    t = vivado_reports.timing(bad)
    assert (t["wns_ns"], t["tns_ns"], t["failing_endpoints"], t["met"]) == (-0.512, -12.3, 42, False)
    assert t["fmax_mhz"] == pytest.approx(95.1, abs=0.1)
    with pytest.raises(ValueError):
        vivado_reports.timing("no report here")
