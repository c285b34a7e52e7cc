"""The Vivado stage's inputs: the board flow TCL (vivado/build.tcl, package_rtl.tcl) copied
into a work folder with a generated params.tcl. Nothing here runs Vivado unless it is on PATH.

    accel_from_hls(meta, ip_zip)      the HLS IP's ports as the block design needs them
    accel_from_rtl(meta, rtl_dir)     the RTL top's (accel rtl, accel_rtl.json), packaged with ipx::
    write(folder, board, name, accel) params.tcl + the TCL scripts; returns the params dict
    command(folder)                   the command line to run there
"""

import importlib.resources
import re
import shutil
from pathlib import Path

from accel.core import cache, process, stream
from accel.core.errors import AccelError

# The top-level vivado/ beside this package (a checkout; cache.MAPPED keys the same files), else
# the installed accel.vivado. Not importlib first: an editable install resolves accel.vivado to
# the checkout it was installed from, which need not be the one running.
TCL_DIR = (cache.MAPPED["vivado"] if (cache.MAPPED["vivado"] / "build.tcl").is_file()
           else Path(importlib.resources.files("accel.vivado")))
SCRIPTS = ("build.tcl", "package_rtl.tcl")

# The fixed address map (PS7 GP0 window 0x40000000-0x7FFFFFFF; the same places Vivado's address
# editor would pick first). Recorded in params.tcl, addresses.txt and the overlay's json.
DMA_BASE, DMA_RANGE = 0x40400000, 0x10000
CTRL_BASE, CTRL_RANGE = 0x43C00000, 1 << stream.CTRL_ADDR_BITS  # HLS s_axi_control or accel_ctrl
# The HP port the weight masters of a DDR design share (one SmartConnect): the DMA has HP0, and
# HP0/HP1 share one DDR controller port while HP2/HP3 share the other (UG585, memory
# interconnect), so HP2 keeps the weight reads off the DMA's path to DDR.
WEIGHTS_HP = "HP2"


def accel_from_hls(meta: dict, ip_zip: str) -> dict:
    """accel_hls.json -> the accelerator in the block design. Vitis HLS renames the C++ ports `in`
    and `out` (reserved words) to in_r / out_r; the AXI-Lite bundle `control` is s_axi_control."""
    bits = _stream_bits(meta)
    return {"backend": "hls", "ip_zip": ip_zip, "ip_vlnv": f"accel:hls:{meta['top']}:1.0",
            "s_axis": "in_r", "m_axis": "out_r", "s_axilite": "s_axi_control",
            "interrupt": "interrupt", "clock_pin": "ap_clk", "reset_pin": "ap_rst_n",
            "stream_bits": bits}


def accel_from_rtl(meta: dict, rtl_dir: Path, rel: str) -> dict:
    """accel_rtl.json (keys top, files, mem_files, io, control, ddr, board_top) -> the
    accelerator; `rel` is the RTL folder relative to the Vivado folder. The TDATA width of the
    Verilog top's ports must be the one accel_rtl.json declares. A design with weights in DDR is
    packaged as its board top (accel_ctrl's AXI4-Lite in front of accel_top) with one AXI4 read
    master per DDR layer (ddr_masters, onto S_AXI_<weights_hp>)."""
    for key in ("top", "files", "io"):
        if key not in meta:
            raise AccelError(f"{rtl_dir}/accel_rtl.json has no '{key}': regenerate with `accel rtl`")
    if meta.get("control", "none") != "none":
        raise AccelError(f"{rtl_dir}: RTL control '{meta['control']}' is not supported by the "
                         "board flow (free-running AXI4-Stream only)")
    bits = _stream_bits(meta)
    top, lite, masters = meta["top"], "", []
    if meta.get("ddr"):  # weights in DDR: the IP is accel_board (accel_ctrl + accel_top)
        board_top = meta.get("board_top")
        if not board_top:
            raise AccelError(f"{rtl_dir}/accel_rtl.json has weights in DDR but no 'board_top': "
                             "regenerate with `accel rtl`")
        image = Path(rtl_dir) / meta["ddr"]["file"]
        if not image.is_file() or image.stat().st_size != meta["ddr"]["bytes"]:
            raise AccelError(f"{image}: missing or not the {meta['ddr']['bytes']} bytes "
                             "accel_rtl.json lists: regenerate with `accel rtl`")
        top, lite = board_top["module"], board_top["s_axilite"]
        masters = [l["port"] for l in meta["ddr"]["layers"]]
    declared = {}
    for f in meta["files"]:
        path = Path(rtl_dir) / f
        if not path.is_file():
            raise AccelError(f"{rtl_dir}: file {f} listed in accel_rtl.json is missing")
        text = path.read_text(errors="replace")
        if re.search(rf"\bmodule\s+{re.escape(top)}\b", text):
            for port in ("s_axis_tdata", "m_axis_tdata"):
                m = re.search(rf"\[\s*(\d+)\s*:\s*0\s*\]\s*{port}\b", text)
                if m:
                    declared[port] = int(m.group(1)) + 1
    for port, width in declared.items():
        if width != bits:
            raise AccelError(f"{rtl_dir}: {top}.{port} is {width} bits, accel_rtl.json says "
                             f"{bits}: regenerate with `accel rtl`")
    return {"backend": "rtl", "ip_vlnv": f"accel:rtl:{top}:1.0", "rtl_top": top,
            "rtl_files": [f"{rel}/{f}" for f in meta["files"]],
            "rtl_mem_files": [f"{rel}/{f}" for f in meta.get("mem_files", [])],
            "s_axis": "s_axis", "m_axis": "m_axis", "s_axilite": lite, "interrupt": "",
            "clock_pin": "ap_clk", "reset_pin": "ap_rst_n", "stream_bits": bits,
            "ddr_masters": masters, "weights_hp": WEIGHTS_HP if masters else ""}


def _stream_bits(meta: dict) -> int:
    io_ = meta["io"]
    bits = {io_["input"]["tdata_bits"], io_["output"]["tdata_bits"]}
    if len(bits) != 1 or next(iter(bits)) not in (8, 16, 32, 64, 128, 256, 512, 1024):
        raise AccelError(f"accelerator stream widths {sorted(bits)}: the AXI DMA needs one width, "
                         "8..1024 bits, a power of two")
    return bits.pop()


def params(board, name: str, accel: dict) -> dict:
    p = {"name": name, "board": board.name, "part": board.part, "board_part": board.board_part or "",
         "clock_mhz": _num(board.clock_mhz), "dma_base": f"0x{DMA_BASE:08X}",
         "dma_range": f"0x{DMA_RANGE:X}", "ctrl_base": f"0x{CTRL_BASE:08X}",
         "ctrl_range": f"0x{CTRL_RANGE:X}", "ddr_range": f"0x{board.ddr_mb << 20:08X}",
         "dma_length_width": stream.DMA_LENGTH_WIDTH, "ip_zip": "", "rtl_top": "", "rtl_files": [],
         "rtl_mem_files": [], "ddr_masters": [], "weights_hp": ""}
    p.update(accel)
    p["ps7_config"] = [x for k, v in board.ps7.items() for x in (f"CONFIG.{k}", v)]
    return p


def _num(x: float):
    return int(x) if float(x).is_integer() else x


def tcl_word(value) -> str:
    """A Tcl word for value: lists become {a b}, strings are braced when needed."""
    if isinstance(value, (list, tuple)):
        return "{" + " ".join(tcl_word(v) for v in value) + "}" if value else "{}"
    s = str(value)
    if any(c in s for c in "{}\\\n"):
        raise AccelError(f"value {s!r} cannot go into params.tcl (braces, backslashes, newlines)")
    return s if s and re.fullmatch(r"[\w.:/+-]+", s) else "{" + s + "}"


def write(folder, board, name: str, accel: dict) -> dict:
    """Copy the board flow TCL into folder and write params.tcl there."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for s in SCRIPTS:
        shutil.copyfile(TCL_DIR / s, folder / s)
    p = params(board, name, accel)
    lines = ["# Generated by `accel build`: parameters of build.tcl (vivado -mode batch -source "
             "build.tcl)."]
    lines += [f"set ACCEL({k}) {tcl_word(v)}" for k, v in p.items()]
    (folder / "params.tcl").write_text("\n".join(lines) + "\n")
    return p


def tool() -> str | None:
    return shutil.which("vivado")


def command(folder) -> str:
    return (f"cd {process.sh(folder)} && vivado -mode batch -source build.tcl -notrace -log "
            "vivado.log")


def run(folder) -> None:
    proc = process.run(["vivado", "-mode", "batch", "-source", "build.tcl", "-notrace",
                        "-log", "vivado.log", "-journal", "vivado.jou"], cwd=folder)
    if proc.returncode != 0:
        raise AccelError(f"vivado failed in {folder} (exit {proc.returncode}): see "
                         f"{folder}/vivado.log")


def outputs(folder, name: str) -> dict | None:
    """The finished build's files, or None when build.tcl has not completed in folder."""
    folder = Path(folder)
    files = {"bit": folder / f"{name}.bit", "hwh": folder / f"{name}.hwh",
             "utilization": folder / "reports" / "utilization.rpt",
             "timing": folder / "reports" / "timing_summary.rpt"}
    if not (folder / "build_done.txt").is_file() or not all(f.is_file() for f in files.values()):
        return None
    return files
