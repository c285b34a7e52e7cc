"""`accel build`: the board flow's cached stages on the embedded default model.

One build folder is shared by the tests in order (module fixture): --until hls (stages run,
verified), the same again (cache hits, nothing re-run), the whole flow without vendor tools (exit 3,
commands, folders prepared), then with stand-in vitis_hls / vivado on PATH (vivado = tclsh with the
stub commands of tests/data/vivado_stub.tcl): the overlay is packaged. Bad input exits 2 and leaves
nothing behind.
"""

import json
import re
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from accel.cli import main
from accel.core import atomic, boards
from accel.core.errors import AccelError
from accel.flow import stamps
from accel.flow.build import EXIT_NEEDS_TOOLS

DATA = Path(__file__).parent / "data"
ARGS = ["--images", "4", "--accuracy-images", "50"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("build") / "build"


def build(out, *extra):
    return main(["build", "--board", "zybo", "--out", str(out), *ARGS, *extra])


def all_stamps(root: Path) -> dict:
    return {d.name: stamps.stamp(d) for d in root.iterdir() if d.is_dir() and stamps.stamp(d)}


def test_until_hls_runs_and_verifies(out, capsys):
    assert build(out, "--until", "hls") == 0
    text = capsys.readouterr().out
    root = out / "zybo"
    for stage in ("model", "golden", "hls"):
        assert f"] {stage}" in text and stamps.stamp(root / stage)["status"] == "done"
    assert not (root / "vitis").exists() and not (root / "vivado").exists()
    verify = stamps.stamp(root / "hls")["verify"]
    assert verify["images"] == 4 and verify["output_mismatches"] == 0
    assert verify["layers_compared"] == 38 and sum(verify["layer_mismatches"].values()) == 0
    assert verify["testbench_ok"]
    state = json.loads((root / "build.json").read_text())
    assert state["exit_code"] == 0 and state["stages"]["vitis"]["status"] == "not run"
    report = (root / "report.md").read_text()
    for png in ("params.png", "macs_cycles.png", "resources.png"):
        assert (root / png).read_bytes()[:4] == b"\x89PNG" and f"({png})" in report
    # an all-8-bit model: a sentence instead of a flat bit-width plot
    assert not (root / "bits.png").exists() and "8-bit weights" in report
    assert "| hls C-sim (g++) | 4 | 0 | 38 | 0 |" in report
    assert "Golden integer model: **" in report and "12,978 parameters" in report
    hidden = [p.name for p in root.iterdir() if p.name.startswith(".")]
    assert hidden == [atomic.MARKER]  # the output marker; no temporaries left


def test_second_run_is_a_cache_hit(out, capsys, monkeypatch):
    before = all_stamps(out / "zybo")
    from accel.hls import generate
    from accel.hls import csim

    def boom(*a, **k):
        raise AssertionError("a cached stage ran again")

    monkeypatch.setattr(generate, "write", boom)
    monkeypatch.setattr(csim, "CSim", boom)
    monkeypatch.setattr("accel.golden.run", boom)
    assert build(out, "--until", "hls") == 0
    text = capsys.readouterr().out
    assert text.count("cached") == 3
    assert all_stamps(out / "zybo") == before


def test_interrupted_stage_resumes(out, capsys):
    root = out / "zybo"
    shutil.rmtree(root / "hls")  # as if killed before the hls folder was swapped in ...
    (root / ".hls-tmp-abc123").mkdir()  # ... leaving its temporary behind
    (root / ".hls-tmp-abc123" / "half").write_text("x")
    assert build(out, "--until", "hls") == 0
    text = capsys.readouterr().out
    assert "] model    cached" in text and "] golden   cached" in text
    assert "] hls      done" in text
    assert not (root / ".hls-tmp-abc123").exists()


def test_from_keeps_the_stages_before_it(out, capsys, monkeypatch):
    """--from hls: model and golden are not run but taken as they are; when one of them is not
    the output of these options (other --images; another HLS config or clock for the hls stage
    before vitis) the build stops with exit 2 naming it, writing nothing."""
    from accel.flow import build as flow

    def boom(ctx):
        raise AssertionError("a stage before --from ran")

    for stage in ("model", "golden"):
        monkeypatch.setitem(flow.RUN, stage, boom)
    assert build(out, "--from", "hls", "--until", "hls") == 0
    text = capsys.readouterr().out
    assert "] model    cached" in text and "] golden   cached" in text and "] hls      cached" in text
    root = out / "zybo"
    before = all_stamps(root), (root / "build.json").read_bytes()
    hls_cfg = out.parent / "hls.yaml"
    hls_cfg.write_text("tb_images: 8\n")
    for extra, stage in ((["--images", "5"], "golden"), (["--hls-config", str(hls_cfg)], "hls"),
                         (["--clock-mhz", "125"], "hls")):
        start = "hls" if stage == "golden" else "vitis"
        assert build(out, "--from", start, "--until", start, *extra) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--from {start}: the {stage} stage is out of date" in err
        assert (all_stamps(root), (root / "build.json").read_bytes()) == before


def test_from_a_stage_not_done_exit_2_nothing_written(tmp_path, capsys):
    target = tmp_path / "b"
    assert main(["build", "--board", "zybo", "--out", str(target), "--from", "golden"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("accel: error: --from golden: the model stage has not run")
    assert "--until model" in err and err.count("\n") == 1
    assert not target.exists()


def test_without_vendor_tools_exit_3_and_commands(out, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert build(out) == EXIT_NEEDS_TOOLS == 3
    text = capsys.readouterr().out
    root = out / "zybo"
    assert f"cd {root / 'vitis'} && vitis_hls -f build.tcl" in text
    assert f"cd {root / 'vivado'} && vivado -mode batch -source build.tcl" in text
    assert "then again: accel build --board zybo" in text
    assert stamps.stamp(root / "vitis")["status"] == "pending"
    assert (root / "vitis" / "build.tcl").is_file() and (root / "vitis" / "tb_data").is_dir()
    params = (root / "vivado" / "params.tcl").read_text()
    assert "set ACCEL(part) xc7z010clg400-1" in params
    assert "set ACCEL(ip_zip) ../vitis/accel_ip.zip" in params
    state = json.loads((root / "build.json").read_text())
    assert state["exit_code"] == 3 and state["stages"]["overlay"]["status"] == "blocked"
    assert len(state["commands"]) == 2
    assert "vivado -mode batch" in (root / "report.md").read_text()


def _tool(bindir: Path, name: str, body: str) -> None:
    path = bindir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_with_tools_the_overlay_is_packaged(out, capsys, monkeypatch, tmp_path):
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh missing")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # vitis_hls stand-in: the IP zip and a csynth report where Vitis HLS puts them
    _tool(bindir, "vitis_hls", """set -e
mkdir -p accel_prj/solution1/syn/report
cat > accel_prj/solution1/syn/report/csynth.xml <<'X'
<profile><PerformanceEstimates><SummaryOfOverallLatency><Best-caseLatency>31000</Best-caseLatency>
<Interval-min>25200</Interval-min></SummaryOfOverallLatency></PerformanceEstimates>
<AreaEstimates><Resources><BRAM_18K>30</BRAM_18K><DSP>51</DSP><FF>9000</FF><LUT>12000</LUT>
</Resources></AreaEstimates></profile>
X
echo ip > accel_ip.zip
""")
    # vivado stand-in: build.tcl under tclsh with the stub commands
    driver = tmp_path / "driver.tcl"
    driver.write_text(f"source {{{DATA / 'vivado_stub.tcl'}}}\nsource build.tcl\n")
    _tool(bindir, "vivado", f"exec tclsh {driver}\n")
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "calls.tsv"))
    monkeypatch.setenv("STUB_REPORTS", str(DATA))
    assert build(out) == 0
    text = capsys.readouterr().out
    root = out / "zybo"
    assert "] vitis    done" in text and "] vivado   done" in text and "] overlay  done" in text
    ov = root / "overlay"
    assert (ov / "accel_zybo.bit").is_file() and (ov / "accel_zybo.hwh").is_file()
    meta = json.loads((ov / "accel_overlay.json").read_text())
    assert meta["bitstream"] == "accel_zybo.bit" and meta["hwh"] == "accel_zybo.hwh"
    assert meta["dma"]["base"] == 0x40400000 and meta["dma"]["stream_bits"] == 32
    assert meta["accel"]["base"] == 0x43C00000 and meta["io"]["input"]["words"] == 196
    viv = stamps.stamp(root / "vivado")
    assert viv["utilization"]["DSP48E1"]["used"] == 53 and viv["timing"]["met"]
    assert stamps.stamp(root / "vitis")["csynth"]["latency_cycles"] == 31000
    report = (root / "report.md").read_text()
    assert "| Vivado (routed) |" in report and "WNS 1.372 ns" in report
    assert json.loads((root / "build.json").read_text())["exit_code"] == 0
    # and once more: every stage a cache hit, vivado not called again
    calls = (tmp_path / "calls.tsv").read_text()
    assert build(out) == 0
    assert capsys.readouterr().out.count("cached") == 6
    assert (tmp_path / "calls.tsv").read_text() == calls


# ---------------------------------------------------------------------------------------------
# bad input: one line, exit 2, nothing written

@pytest.mark.parametrize("argv, message", [
    (["--board", "zedboard"], "unknown board 'zedboard': choose from pynq-z2, zybo"),
    (["--board", "zybo", "--until", "bitstream"], "--until bitstream: choose a stage"),
    (["--board", "zybo", "--backend", "rtl", "--until", "vitis"], None),
    (["--board", "zybo", "--model", "/nonexistent/m.onnx"], "m.onnx"),
    (["--board", "zybo", "--images", "0"], "--images: must be an integer from 1"),
    (["--board", "zybo", "--from", "bitstream"], "--from bitstream: choose a stage of the hls flow"),
    (["--board", "zybo", "--from", "vivado", "--until", "hls"], "--from vivado comes after --until"),
    (["--board", "zybo", "--fold", "/nonexistent/f.yaml"], "fold file /nonexistent/f.yaml not found"),
    (["--board", "zybo", "--hls-config", "/nonexistent/h.yaml"],
     "HLS config /nonexistent/h.yaml not found"),
    (["--board", "zybo", "--clock-mhz", "300"], "--clock-mhz: must be a finite number from 10"),
    (["--board", "zybo", "--target-fps", "0"], "--target-fps: must be a finite number from 1"),
])
def test_bad_input_exit_2_nothing_written(tmp_path, capsys, argv, message):
    target = tmp_path / "b"
    if "rtl" in argv:
        try:
            import accel.rtl.generate  # noqa: F401
            message = "--until vitis: choose a stage of the rtl flow"
        except ImportError:
            message = "--backend rtl: the RTL generator is not available"
    assert main(["build", *argv, "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("accel: error:") and message in err and err.count("\n") == 1
    assert not target.exists()


def test_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["build", "--board", "zybo", "--out", str(blocker / "build")]) == 2
    assert "not a folder" in capsys.readouterr().err
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions do not stop writes")
        assert main(["build", "--board", "zybo", "--out", str(ro / "build")]) == 2
        assert "not writable" in capsys.readouterr().err
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_model_that_does_not_fit(tmp_path, capsys, monkeypatch):
    boards_dir = tmp_path / "boards"
    boards_dir.mkdir()
    (boards_dir / "tiny7000.yaml").write_text(
        "part: xc7z007sclg400-1\nclock_mhz: 100\n"
        "capacity: {LUT: 14400, FF: 28800, BRAM36: 3, DSP48E1: 66}\n")
    monkeypatch.setenv("ACCEL_BOARDS", str(boards_dir))
    target = tmp_path / "b"
    assert main(["build", "--board", "tiny7000", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert "does not fit tiny7000" in err and "BRAM36 4 > 3" in err and err.count("\n") == 1
    assert not target.exists()
    # the fix names a board of another part with room (never one with the same fabric), and works
    fix = re.search(r"accel build --board ([\w-]+)\)", err)
    assert fix and boards.get(fix.group(1)).part != "xc7z007sclg400-1", err
    assert main(["build", "--board", fix.group(1), "--until", "golden", "--out", str(target)]) == 0


def test_fit_check_never_proposes_the_same_part():
    from accel.flow.context import fit_check

    pynq = boards.get("pynq-z2")
    with pytest.raises(AccelError) as e:  # the largest part here: no board of another part holds it
        fit_check(pynq, {"DSP48E1": pynq.capacity["DSP48E1"] + 1}, "test")
    assert "zybo-z7-20" not in str(e.value) and "no board of another part" in str(e.value)
    with pytest.raises(AccelError) as e:
        fit_check(boards.get("zybo"), {"BRAM36": 100}, "test")
    assert re.search(r"--board (pynq-z2|zybo-z7-20)\)", str(e.value))


def fake_estimate(rtl_dir, board):
    """A stand-in for the yosys estimate: the generator's own DSP48E1 count (its multipliers when
    it states none; LUT multipliers and packed ones take fewer)."""
    e = json.loads((Path(rtl_dir) / "accel_rtl.json").read_text())["estimate"]
    dsp = e.get("resources", {}).get("total", {}).get("DSP", e["multipliers"])
    return {"LUT": 1000, "FF": 1000, "DSP": dsp, "BRAM36": 1, "fits": True}


def test_rtl_backend(tmp_path, capsys, monkeypatch):
    """--backend rtl through accel.rtl (generate, simulate; estimate when present)."""
    try:
        from accel.rtl import generate, sim  # noqa: F401
    except ImportError:
        pytest.skip("accel.rtl not available")
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog missing")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    # yosys on the whole tiny-mnist takes minutes: the estimate itself is tested on a small net in
    # test_rtl_estimate.py; here a stand-in with the generator's multiplier count checks the hook.
    from accel.rtl import estimate as rtl_estimate

    monkeypatch.setattr(rtl_estimate, "estimate", fake_estimate)
    out = tmp_path / "build"
    code = main(["build", "--board", "zybo", "--backend", "rtl", "--out", str(out), "--images",
                 "2", "--accuracy-images", "0"])
    text = capsys.readouterr().out
    assert code == 3, text
    root = out / "zybo"
    rtl = stamps.stamp(root / "rtl")
    assert rtl["status"] == "done" and rtl["fit"]["DSP48E1"]["need"] <= 80
    if rtl["verify"].get("status") != "not available":
        assert rtl["verify"]["images"] == 2 and rtl["verify"]["output_mismatches"] == 0
    params = (root / "vivado" / "params.tcl").read_text()
    assert "set ACCEL(backend) rtl" in params and "set ACCEL(s_axilite) {}" in params
    files = next(l for l in params.splitlines() if l.startswith("set ACCEL(rtl_files)"))
    files = files.split("{", 1)[1].rstrip("}").split()
    assert files and all((root / "vivado" / f).is_file() for f in files)
    assert f"cd {root / 'vivado'} && vivado" in text and "vitis_hls" not in text


def test_missing_dataset_stops_the_build(tmp_path, capsys):
    """The golden vectors never silently become random pixels: a dataset that is not there stops
    the build with one line naming it, and nothing is cached under the golden stage."""
    missing = tmp_path / "gone"
    code = main(["build", "--board", "zybo", "--out", str(tmp_path / "b"), "--until", "golden",
                 "--dataset", f"folder:{missing}", "--accuracy-images", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(missing) in err[0], err
    assert not (tmp_path / "b" / "zybo" / "golden" / "images.npy").exists()


def test_dataset_is_part_of_the_golden_key(tmp_path, capsys):
    """Vectors from another dataset are another stage: fashion-mnist after mnist rebuilds it."""
    args = ["build", "--board", "zybo", "--out", str(tmp_path / "b"), "--until", "golden",
            "--images", "4", "--accuracy-images", "0"]
    assert main(args) == 0
    first = stamps.stamp(tmp_path / "b" / "zybo" / "golden")
    assert main(args + ["--dataset", "fashion-mnist"]) == 0
    second = stamps.stamp(tmp_path / "b" / "zybo" / "golden")
    assert first["key"] != second["key"] and "fashion-mnist" in second["source"]


def test_fold_change_reruns_rtl_not_golden(tmp_path, capsys, monkeypatch, exported):
    """The fold is part of the rtl stage's key, not golden's: another --target-fps re-runs rtl
    with golden cached. rtl/fold.json holds the fold chosen, in fold.yaml's layout: given back
    with --fold it builds the same folding. (yosys and the cocotb run are stand-ins here: the
    flow's use of them is test_rtl_backend's; what matters is what generate.write was given.)"""
    from accel import golden
    from accel.core import stream
    from accel.core.modelfile import load_model
    from accel.rtl import estimate as rtl_estimate
    from accel.rtl import sim

    golden_run = golden.run

    def golden_as_rtl(rtl_dir, x, **kw):
        m = json.loads((Path(rtl_dir) / "accel_rtl.json").read_text())
        y = golden_run(load_model(m["model"]), x)
        return {"outputs": stream.outputs_nhwc(y, m["io"]["output"])}

    monkeypatch.setattr(rtl_estimate, "estimate", fake_estimate)
    monkeypatch.setattr(sim, "simulate", golden_as_rtl)
    _, model = exported()
    # a few images at the net's 15x15 (MNIST would be resized, all 70,000 of it)
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / "img" / c).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(rng.integers(0, 256, (15, 15), dtype=np.uint8)).save(
                tmp_path / "img" / c / f"{i}.png")
    out = tmp_path / "b"
    root = out / "zybo"
    argv = ["build", "--board", "zybo", "--backend", "rtl", "--model", str(model), "--out",
            str(out), "--until", "rtl", "--images", "2", "--accuracy-images", "0",
            "--dataset", f"folder:{tmp_path / 'img'}"]

    def fold():
        f = json.loads((root / "rtl" / "fold.json").read_text())
        return f, sum(l["pe"] * l["simd"] for l in f["layers"].values() if "simd" in l)

    assert main(argv + ["--target-fps", "500"]) == 0
    slow, slow_mults = fold()
    assert slow["target_fps"] == 500 and slow["clock_mhz"] == 100
    kinds = {l.name: l.kind for l in load_model(model).layers}
    assert set(slow["layers"]) == {n for n, k in kinds.items() if k in ("conv", "maxpool")}
    convs = {n: f for n, f in slow["layers"].items() if kinds[n] == "conv"}
    first = all_stamps(root)
    report = (root / "report.md").read_text()
    assert "(rtl/fold.json)" in report
    # the report's fold table: every conv's fold as chosen, the slowest layer marked once
    rows = [r for r in report.splitlines() if r.startswith("| ") and " | conv | " in r]
    assert len(rows) == len(convs)
    for name, f in convs.items():
        row = next(r for r in rows if r.startswith(f"| {name} ") or r.startswith(f"| **{name} "))
        assert f" | {f['pe']} | {f['simd']} | {f['mul']} | " in row
    marked = [r for r in report.splitlines() if "(bottleneck)**" in r]
    cycles = {r.split(" | ")[0]: int(r.split(" | ")[-1].strip(" |").replace(",", ""))
              for r in report.splitlines() if r.startswith("| ") and r.endswith(" |")
              and r.split(" | ")[-1].strip(" |").replace(",", "").isdigit()}
    assert len(marked) == 1 and cycles[marked[0].split(" | ")[0]] == max(cycles.values())

    monkeypatch.setattr("accel.golden.run", lambda *a, **k: pytest.fail("golden ran again"))
    capsys.readouterr()
    assert main(argv + ["--target-fps", "50000"]) == 0
    text = capsys.readouterr().out
    assert "] golden   cached" in text and "] rtl      done" in text
    fast, fast_mults = fold()
    assert fast["target_fps"] == 50000 and fast_mults > slow_mults
    second = all_stamps(root)
    assert second["golden"] == first["golden"] and second["rtl"]["key"] != first["rtl"]["key"]
    spec = second["rtl"]["fold_spec"]  # what accel.rtl was given
    assert (spec["target_fps"], spec["clock_mhz"], spec.get("layers")) == (50000, 100, {})

    kept = tmp_path / "slow.json"
    kept.write_text(json.dumps(slow))
    assert main(argv + ["--fold", str(kept)]) == 0
    assert fold()[0] == slow
