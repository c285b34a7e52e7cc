"""Progress on stderr for the long steps (accel.core.progress): the helper itself, then `accel
sim` (Verilator, the default model; `accel estimate --yosys` in test_rtl_estimate.py) with their
stderr captured: progress is there, stdout keeps its format, --quiet / ACCEL_PROGRESS=0 turn it
off, and an error after a bar is still one `accel: error:` line of its own."""

import re
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

# (`accel estimate --yosys` shows yosys' progress: tests/test_rtl_estimate.py's
# test_yosys_on_a_small_net, which shares its one yosys run with the estimate's own checks.)


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
