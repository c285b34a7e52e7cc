"""Resource estimate of the RTL by yosys synth_xilinx (no Vivado)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from accel.cli import main
from accel.core.errors import AccelError
from accel.rtl.estimate import estimate, parse_stat, summarize
from accel.rtl.generate import write as generate
from accel.rtl.timing import deeper

STAT = """
12. Printing statistics.

=== accel_top ===

   Number of wires:               1000
   Number of cells:                900
     CARRY4                         40
     DSP48E1                        12
     FDCE                          100
     FDRE                          300
     LUT2                           50
     LUT6                           70
     RAM64M                          5
     RAMB18E1                        3
     RAMB36E1                        2
     SRLC32E                         4
"""


def test_parse_and_fold_cell_counts():
    cells = parse_stat(STAT)
    assert cells["DSP48E1"] == 12 and cells["FDRE"] == 300
    s = summarize(cells)
    assert s["LUT"] == 50 + 70 + 4 * 5 + 4   # logic + LUTRAM (4 per RAM64M) + SRLs
    assert s["FF"] == 400 and s["DSP"] == 12 and s["BRAM36"] == 3.5
    with pytest.raises(AccelError, match="no cell statistics"):
        parse_stat("nothing here")


RESOURCE_LINE = r"  (LUT|FF|DSP|BRAM36) +[\d.]+ of +\d+ \(\d+%\)"


def test_yosys_on_a_small_net(exported, tmp_path, capsys, monkeypatch):
    """One yosys run (about a minute of CPU) for everything that needs a real one: `accel
    estimate --yosys` with its progress on stderr (its log's steps as a bar; the number of
    synth_xilinx steps learned for the next run's bar: seeded wrong here, the bar uses it, the run
    fixes it) and stdout in its format; then the figures and the per-layer table from the cache."""
    _, path = exported()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCEL_CACHE", str(tmp_path / "cache"))  # yosys really runs
    rtl = Path("r")  # relative, as typed: yosys runs in r/rtl, so the paths it gets must not be
    m = generate(path, rtl, fold={"target_fps": 20000})
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
    # the figures (the run above's, from the cache)
    e = estimate(rtl, "zybo")
    # the DSP48E1 count is exact: the lane rule per layer (accel.rtl.mul: dsp, pack, lut)
    assert e["DSP"] == sum(l.get("dsps", 0) for l in m["layers"])
    assert e["LUT"] > 0 and e["FF"] > 0 and e["fits"]
    assert e["capacity"] == {"LUT": 17600, "FF": 35200, "DSP": 80, "BRAM36": 60}
    # the per-layer shares add up to the whole; each conv's DSPs are its fold's
    rows = {r["layer"]: r for r in e["layers"]}
    assert list(rows)[:-2] == [l["name"] for l in m["layers"]] and list(rows)[-2:] == ["io", "glue"]
    for k in ("LUT", "LUT_memory", "FF", "DSP", "BRAM36", "CARRY4"):
        assert sum(r[k] for r in e["layers"]) == e[k], k
    for l in m["layers"]:
        assert rows[l["name"]]["DSP"] == l.get("dsps", 0), l["name"]
        assert rows[l["name"]]["LUT"] > 0, l["name"]
        # every layer holds state in flip-flops but a concat (a join of two registered
        # streams without a register of its own)
        assert (rows[l["name"]]["FF"] > 0) == (l["kind"] != "concat"), l["name"]
    assert rows["io"]["FF"] > 0  # the DMA word unpacker / packer
    # the CLI table (from the cache)
    assert main(["estimate", "--model", str(path), "--rtl", str(rtl), "--layers", "--yosys"]) == 0
    text = capsys.readouterr().out
    assert "fits zybo" in text
    for l in m["layers"]:
        assert f"  {l['name']} " in text
    # the timing proxy (tests/test_rtl_timing.py): printed, and this net (benchmarks/timing.py's
    # "small-net") no deeper than benchmarks/results/timing.json recorded
    t = e["timing"]
    assert f"depth   {t['lut_levels']} LUT levels, CARRY4 chain {t['carry4_chain']}" in text
    assert t["unmodelled"] == [] and t["loops"] == 0
    # every layer with registers has a row, in network order (a concat has none: its paths
    # are counted in the registers on either side)
    names = [l["name"] for l in m["layers"] if l["kind"] != "concat"]
    assert [r["layer"] for r in t["per_layer"]][:len(names)] == names
    record = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "timing.json"
    assert deeper(t, json.loads(record.read_text())["designs"]["small-net"]) == []
    with pytest.raises(AccelError, match="unknown board|board"):
        estimate(rtl, "no-such-board")


HIER = """
12. Printing statistics.

=== $paramod$ab\\accel_mvau ===

   Number of cells:                 12
     $paramod$cd\\accel_requant      2
     DSP48E1                         1
     FDRE                           10
     LUT3                            4

=== $paramod$cd\\accel_requant ===

   Number of cells:                  3
     LUT6                            3

=== accel_top ===

   Number of cells:                  4
     $paramod$ab\\accel_mvau          2
     BUFG                            1
     LUT2                            1

=== design hierarchy ===

   accel_top                         1
     LUT2                           21
"""
DUMP = """
  cell $paramod$ab\\accel_mvau \\u_fire2_squeeze
  end
  cell $paramod$ab\\accel_mvau \\u_fire2_squeeze_fork
  end
  cell \\BUFG $auto$clkbufmap.cc:261:execute$2215
  end
"""


def test_layer_breakdown_follows_the_hierarchy():
    """Submodules are counted inside their parent, instances go to the layer of their stream
    (u_<stream> or u_<stream>_<part>; the longest stream name that fits), the top's own cells
    are glue."""
    from accel.rtl.estimate import by_layer, parse_instances, parse_modules

    modules = parse_modules(HIER)
    assert set(modules) == {"$paramod$ab\\accel_mvau", "$paramod$cd\\accel_requant", "accel_top"}
    inst = parse_instances(DUMP)
    assert inst == {"u_fire2_squeeze": "$paramod$ab\\accel_mvau",
                    "u_fire2_squeeze_fork": "$paramod$ab\\accel_mvau"}
    manifest = {"top": "accel_top", "layers": [{"name": "fire2.squeeze", "stream": "fire2_squeeze"},
                                               {"name": "x", "stream": "fire2_squeeze_fork"}]}
    rows = {r["layer"]: r for r in by_layer(manifest, modules, inst)}
    assert rows["fire2.squeeze"]["LUT"] == 4 + 2 * 3 and rows["fire2.squeeze"]["DSP"] == 1
    assert rows["x"]["FF"] == 10 and rows["io"]["LUT"] == 0
    assert rows["glue"]["LUT"] == 1


LOG = """
 Yosys 0.23 (git sha1 7ce5011c24b)

1. Executing Verilog-2005 frontend: accel_concat.v
2. Executing SYNTH_XILINX pass.
2.1. Executing Verilog-2005 frontend: /usr/share/yosys/xilinx/cells_sim.v
2.2. Executing HIERARCHY pass (managing design hierarchy).
2.3. Executing OPT pass (performing simple optimizations).
2.3.1. Executing OPT_EXPR pass (perform const folding).
"""
LOG_END = """2.4. Executing ABC pass (technology mapping using ABC).
2.4.1. Executing ABC.
3. Printing statistics.
"""


def test_log_watch_follows_synth_xilinx(tmp_path):
    """The progress poll reads only what the log gained (a line cut by a write waits for its end):
    synth_xilinx's step and the pass; with the step count known from an earlier run, a bar."""
    from accel.rtl.estimate import LogWatch, synth_steps

    log = tmp_path / "yosys.log"
    log.write_text(LOG + LOG_END[:20])
    watch = LogWatch(log, {})
    assert watch() == {"n": 3, "status": "step 3: OPT_EXPR pass"}
    assert watch() == {}
    log.write_text(LOG + LOG_END)
    assert watch() == {"n": 4, "status": "Printing statistics"}
    assert synth_steps(LOG + LOG_END) == 4
    known = LogWatch(log, {"Yosys 0.23 (git sha1 7ce5011c24b)": 4})
    assert known() == {"total": 4, "n": 4, "status": "Printing statistics"}


def test_a_killed_runs_partial_json_is_swept(tmp_path, monkeypatch):
    """write_json's partial file has accel.core.atomic's temporary form: when the run dies
    between writing and renaming it, the next lookup of that cache folder removes it."""
    from accel.core import cache

    monkeypatch.setenv("ACCEL_CACHE", str(tmp_path))
    folder = tmp_path / "rtl" / "yosys"
    code = ("import os, sys; from pathlib import Path; from accel.rtl import estimate; "
            "os.replace = lambda *a: os._exit(9); "  # killed after the write, before the rename
            "estimate.write_json(Path(sys.argv[1]), {'cells': {}})")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder / "k.json")])
    assert proc.wait() == 9
    [part] = folder.iterdir()
    assert part.name.startswith(f".k.json-tmp-{proc.pid}-")
    live = folder / f".k.json-tmp-{os.getpid()}-0a1b"  # a running process's: kept
    live.write_text("{")
    assert cache.folder("rtl", "yosys") == folder
    assert list(folder.iterdir()) == [live]
