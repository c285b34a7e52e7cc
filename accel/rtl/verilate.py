"""Native Verilator runs of the HDL DMA testbench: what accel.rtl.sim.simulate does for
simulator "verilator" with driver "hdl". tb/accel_tb_main.v (reset, timeout, the profile counters
written at DONE) and tb/accel_tb_main.cpp (the clock loop) around tb/accel_tb_dma.v and the design
become one binary: no cocotb, no VPI and no --public-flat-rw (which makes every signal public and
so stops Verilator optimizing), so Python only starts the binary and polls its progress file.
The figures are the cocotb run's, cycle for cycle (tests/test_rtl_sim.py).
"""

import os
import shutil
import subprocess
from pathlib import Path

from accel.core import process
from accel.core.errors import AccelError

TB_DIR = Path(__file__).parent / "tb"
MAIN = "accel_tb_main"
PROF_INCLUDE = "accel_tb_prof.vh"  # per design: the $fwrite lines of its streams
CAP_INCLUDE = "accel_tb_cap.vh"  # per design, capture builds: every stream's beats to a file
RESULT = "tb_result.txt"
WAIVERS = ["-Wno-fatal", "-Wno-WIDTH", "-Wno-UNUSED", "-Wno-UNOPTFLAT"]  # every Verilator build
# -O3 and two-state X handling for speed; the C++ at -O2 (Verilator's -Os default: 15 % slower on
# the tiny-mnist design, about the same compile time).
FLAGS = ["-O3", "--x-assign", "fast", "--x-initial", "fast", *WAIVERS,
         "-MAKEFLAGS", "OPT_FAST=-O2", "-MAKEFLAGS", "OPT_GLOBAL=-O2"]


def prof_include(streams, extra=()) -> str:
    """Verilog lines for accel_tb_main.v: the cycle count, then per stream its first and last
    beat's cycle and its beat count, read hierarchically from accel_top (`ifdef ACCEL_PROFILE);
    extra: more $fwrite lines (the DDR models' counters, accel.rtl.simddr)."""
    top = "u_dma.u_top"
    lines = [f'$fwrite(f, "cycles %0d\\n", {top}.prof_cycle);']
    lines += [f'$fwrite(f, "stream {s} %0d %0d %0d %0d\\n", {top}.prof_{s}_first, '
              f'{top}.prof_{s}_last, {top}.prof_{s}_beats, {top}.prof_{s}_held);'
              for s in streams]
    lines += list(extra)
    return "".join(f"                {l}\n" for l in lines)


def cap_file(stream: str) -> str:
    return f"cap_{stream}.txt"


def capture_include(streams) -> str:
    """Verilog for accel_tb_main.v (`ifdef ACCEL_CAPTURE): per stream of accel_top a file
    cap_<stream>.txt with the data of every beat (VALID and READY at a clock edge) in hex, one
    line each, as the cocotb capture takes them, but inside the simulation: a 224x224 SqueezeNet
    has millions of beats, and Python on every clock would take hours."""
    top = "u_dma.u_top"
    lines = []
    for i, s in enumerate(streams):
        lines += [f"    integer cap_{i};",
                  f'    initial cap_{i} = $fopen("{cap_file(s)}", "w");',
                  f"    always @(posedge ap_clk) if ({top}.{s}_valid && {top}.{s}_ready)",
                  f'        $fwrite(cap_{i}, "%h\\n", {top}.{s}_data);']
    return "\n".join(lines) + "\n"


def capture_close(streams) -> list:
    """$fclose lines for the profile include (run at DONE, before $finish)."""
    return [f"$fclose(cap_{i});" for i in range(len(streams))]


def read_capture(run_dir: Path, streams) -> dict:
    """{stream: [data word as int]} from a capture run's files."""
    return {s: [int(l, 16) for l in (run_dir / cap_file(s)).read_text().split()]
            for s in streams}


def build(build_dir: Path, sources, params: dict, streams, env: dict, ddr: dict | None = None,
          capture: bool = False) -> Path:
    """The binary in build_dir (content-keyed by the caller, who holds its lock): built once, a
    stamp marks it complete so a killed build is redone. ddr: {"includes": {file: text},
    "prof": [$fwrite lines]} of a design with weights in DDR (accel.rtl.simddr), else None.
    capture: every stream's beats to files (capture_include)."""
    binary = build_dir / MAIN
    stamp = build_dir / "built.ok"
    if stamp.is_file() and binary.is_file():
        return binary
    shutil.rmtree(build_dir / "obj", ignore_errors=True)  # a killed build's truncated objects
    extra = list(ddr["prof"] if ddr else ()) + (capture_close(streams) if capture else [])
    (build_dir / PROF_INCLUDE).write_text(prof_include(streams, extra))
    (build_dir / CAP_INCLUDE).write_text(capture_include(streams) if capture else "")
    for name, text in (ddr["includes"] if ddr else {}).items():
        (build_dir / name).write_text(text)
    ddr_args = ["-DACCEL_DDR=1", str(TB_DIR / "accel_tb_ddr.v")] if ddr else []
    exe = shutil.which("verilator", path=env["PATH"])
    cmd = [exe, "--cc", "--exe", "--build", "-j", str(os.cpu_count() or 1), *FLAGS,
           "--timescale", "1ns/1ps", "--top-module", MAIN, "-Mdir", str(build_dir / "obj"),
           "-o", str(binary), "-DACCEL_PROFILE=1", *(["-DACCEL_CAPTURE=1"] if capture else []),
           f"-I{build_dir}",
           *[f"-G{k}={v}" for k, v in params.items()], *ddr_args,
           str(TB_DIR / f"{MAIN}.cpp"), *map(str, sources),
           str(TB_DIR / "accel_tb_dma.v"), str(TB_DIR / f"{MAIN}.v")]
    log_path = build_dir / "build.log"
    with open(log_path, "w") as log:
        done = process.run(cmd, cwd=build_dir, env={**os.environ, **env}, stdout=log,
                           stderr=subprocess.STDOUT)
    if done.returncode != 0 or not binary.is_file():
        raise AccelError(f"verilator build failed (exit {done.returncode}): see {log_path}")
    stamp.write_text("")
    return binary


def run(binary: Path, run_dir: Path, plusargs, timeout_cycles: int) -> dict | None:
    """Run the binary in run_dir (tb_in.mem and the ROM files there); the result dict of the
    cocotb test (error, streams, cycles) or None when the binary wrote none (crash: sim.log)."""
    with open(run_dir / "sim.log", "w") as log:
        process.run([str(binary), *plusargs, f"+timeout={timeout_cycles}"], cwd=run_dir,
                    stdout=log, stderr=subprocess.STDOUT)
    path = run_dir / RESULT
    if not path.is_file():
        return None
    rows = [l.split() for l in path.read_text().splitlines() if l.strip()]
    if not rows:
        return None
    if rows[0][0] == "timeout":
        return {"error": f"not all images came out within {timeout_cycles} cycles (timeout)"}
    res = {"error": None, "streams": {}}
    for row in rows[1:]:
        if row[0] == "cycles":
            res["cycles"] = int(row[1])
        elif row[0] == "ddr":  # accel.rtl.simddr.COUNTERS of one port
            from accel.rtl.simddr import COUNTERS

            res.setdefault("ddr", {})[row[1]] = dict(zip(COUNTERS, map(int, row[2:])))
        else:
            res["streams"][row[1]] = dict(zip(("first", "last", "beats", "held"),
                                              map(int, row[2:])))
    return res
