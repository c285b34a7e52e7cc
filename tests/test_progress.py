"""Progress on stderr for the long steps (accel.core.progress): the helper itself, then `accel
estimate` (yosys on a tiny net) and `accel sim` (Verilator, the default model) with their stderr
captured: progress is there, stdout keeps its format, --quiet / ACCEL_PROGRESS=0 turn it off, and
an error after a bar is still one `accel: error:` line of its own."""

import json
import re
import shutil
import subprocess
import time

import pytest

from accel.cli import main
from accel.core import progress
from accel.core.errors import AccelError


@pytest.fixture
def fast(monkeypatch):
    """Progress after 0.05 s and a line every 0.1 s (the defaults: 2 s and 10 s)."""
    monkeypatch.setattr(progress, "DELAY", 0.05)
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.1)


def test_bar_spinner_and_nesting_as_log_lines(fast, capsys):
    with progress.task("stage"):
        time.sleep(0.3)
        with progress.task("g++") as t:
            t.set(status="compiling")
            time.sleep(0.3)
        with progress.task("simulation", total=4, unit="images") as t:
            for i in range(4):
                time.sleep(0.1)
                t.set(n=i + 1, status=f"cycle {1000 * (i + 1):,}")
    with progress.task("quick", total=3):
        pass  # ends within DELAY: nothing
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert "\r" not in err and all(a != b for a, b in zip(lines, lines[1:]))  # a log: no redraws
    assert re.fullmatch(r"stage \d\d:\d\d", lines[0])
    assert any(re.fullmatch(r"stage > g\+\+ \d\d:\d\d, compiling", l) for l in lines)
    assert re.fullmatch(r"stage > simulation: 100%\|#+\| 4/4 images \[.*\], cycle 4,000",
                        [l for l in lines if "simulation" in l][-1])
    assert "quick" not in err


def test_off_by_quiet_or_environment(fast, capsys, monkeypatch):
    with progress.quiet():
        with progress.task("hidden", total=2):
            time.sleep(0.3)
    monkeypatch.setenv("ACCEL_PROGRESS", "0")
    with progress.task("hidden too"):
        time.sleep(0.3)
    assert capsys.readouterr().err == ""


def test_error_after_a_bar_is_one_line_of_its_own(fast, capsys, monkeypatch):
    """The bar ends its line before the exception leaves the task: `accel: error:` starts a line
    and is the only error line."""
    import accel.rtl.estimate
    from accel.cli import DEFAULT_MODEL
    from accel.core.modelfile import load_model
    from accel.rtl import project_for

    rtl = project_for(load_model(DEFAULT_MODEL))  # (cached)

    def slow_failure(rtl, board):
        with progress.task("yosys synth_xilinx", total=50, unit="steps") as t:
            t.set(n=7, status="OPT pass")
            time.sleep(0.3)
            raise AccelError("yosys failed on x: ERROR: boom (see x/yosys.log)")

    monkeypatch.setattr(accel.rtl.estimate, "estimate", slow_failure)
    assert main(["estimate", "--rtl", str(rtl), "--yosys"]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and lines[0].startswith("yosys synth_xilinx:  14%|")
    assert [l for l in lines if "accel: error:" in l] == [lines[-1]]
    assert lines[-1] == "accel: error: yosys failed on x: ERROR: boom (see x/yosys.log)"


# ---------------------------------------------------------------------------------------------
# the real tools

RESOURCE_LINE = r"  (LUT|FF|DSP|BRAM36) +[\d.]+ of +\d+ \(\d+%\)"


def test_estimate_shows_yosys_progress(exported, tmp_path, capsys, monkeypatch):
    """yosys on a tiny net (~1 min): its log's steps as progress; the number of synth_xilinx
    steps is learned for the next run's bar (seeded wrong here: the bar uses it, the run fixes
    it)."""
    if not shutil.which("yosys"):
        pytest.skip("yosys missing")
    from accel.rtl.generate import write as generate

    _, path = exported()
    rtl = tmp_path / "r"
    generate(path, rtl, fold={"target_fps": 1000})
    monkeypatch.setenv("ACCEL_CACHE", str(tmp_path / "cache"))  # yosys really runs
    version = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
    steps = tmp_path / "cache" / "rtl" / "yosys" / "synth_steps.json"
    steps.parent.mkdir(parents=True)
    steps.write_text(json.dumps({version: 999}))
    capsys.readouterr()  # (the model export's own output)
    assert main(["estimate", "--model", str(path), "--rtl", str(rtl), "--yosys"]) == 0
    out, err = capsys.readouterr()
    bars = [l for l in err.splitlines() if l.startswith("yosys synth_xilinx: ")]
    assert bars and all(re.search(r"\| +\d+/999 steps \[", l) for l in bars), err
    assert re.search(r"/999 steps \[.*\], \w", bars[-1])  # and the pass yosys was in
    learned = json.loads(steps.read_text())[version]
    assert 10 < learned < 999
    lines = out.splitlines()  # stdout: header, four resources, depth, verdict; no progress
    assert len(lines) == 7 and lines[0].startswith(f"yosys synth_xilinx -family xc7 on {rtl} ")
    assert all(re.fullmatch(RESOURCE_LINE, l) for l in lines[1:5]), out
    assert re.match(r"  depth   \d+ LUT levels, CARRY4 chain \d+; ~[\d.]+ MHz", lines[5]), out
    assert lines[6] == "fits zybo (xc7z010clg400-1)"


def test_sim_shows_images_and_cycles(fast, capsys):
    """`accel sim --images 2` (Verilator, its build cached in $ACCEL_CACHE): images done and the
    cycle from the testbench's progress file; --quiet: nothing on stderr. (fast: the native run
    of 2 images ends within progress.DELAY.)"""
    from accel.rtl import sim

    try:
        sim.check_simulator("verilator")
    except AccelError as e:
        pytest.skip(str(e))
    assert main(["sim", "--images", "2"]) == 0
    out, err = capsys.readouterr()
    bars = [l for l in err.splitlines() if l.startswith("verilator simulation: ")]
    assert bars and re.fullmatch(r"verilator simulation: 100%\|#+\| 2/2 images \[.*\], "
                                 r"cycle [\d,]+", bars[-1]), err
    lines = out.splitlines()
    assert lines[0].startswith("verilator: 2 mnist test images through ")
    assert lines[1].split() == ["layer", "PE", "SIMD", "est.", "cycles", "first", "out",
                                "cycles/img"]
    assert re.match(r"latency \d+ cycles \(first input word -> last output word\), II \d+ cycles",
                    lines[-3]) and lines[-1] == "PASS: 0 mismatches vs golden"
    assert "%|" not in out
    assert main(["sim", "--images", "2", "--quiet"]) == 0
    out2, err2 = capsys.readouterr()
    assert err2 == "" and out2.splitlines()[1:] == lines[1:]
