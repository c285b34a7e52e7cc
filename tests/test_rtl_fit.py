"""accel.rtl.fit: the yosys check of a mapped design. yosys itself is exercised by
tests/test_rtl_estimate.py and benchmarks/user_model.py; here a stand-in counts what the resource
model says times a factor, so each round's outcome is known."""

import json
from pathlib import Path

import pytest

from accel.api import DEFAULT_MODEL
from accel.cli import main
from accel.core.errors import AccelError
from accel.core.modelfile import load_model
from accel.rtl import estimate as est
from accel.rtl import fit


def stand_in(factor, bram=1.0):
    """An `estimate` whose LUT and FF are the design's model figures times factor (BRAM36
    times bram)."""
    def estimate(rtl_dir, board="zybo", cache=True):
        used = json.loads((Path(rtl_dir) / "accel_rtl.json").read_text())["fold"]["mapping"]["used"]
        return {"LUT": round(used["LUT"] * factor), "FF": round(used["FF"] * factor),
                "BRAM36": used["BRAM36"] * bram}
    return estimate


def test_maps_again_until_yosys_agrees(tmp_path, monkeypatch):
    qm = load_model(DEFAULT_MODEL)
    monkeypatch.setattr(est, "estimate", stand_in(1.25))  # the model 20 % under yosys
    out = tmp_path / "rtl"
    lines = []
    man = fit.write_checked(qm, out, None, "zybo", log=lines.append)
    rounds = json.loads((out / fit.RECORD).read_text())["rounds"]
    assert len(rounds) >= 2 and "mapping again" in lines[0] and lines[-1].endswith("fits")
    first, last = rounds[0], rounds[-1]
    assert first["yosys"]["LUT"] > first["limit"]["LUT"]  # the model's design: over by yosys
    assert last["yosys"]["LUT"] <= last["limit"]["LUT"] and last["yosys"]["FF"] <= last["limit"]["FF"]
    assert last["scale"]["LUT"] > 1 and last["images_per_s"] < first["images_per_s"]
    assert man["fold"]["mapping"]["images_per_s"] == last["images_per_s"]


def test_a_model_that_agrees_takes_one_round(tmp_path, monkeypatch):
    monkeypatch.setattr(est, "estimate", stand_in(1.0))
    out = tmp_path / "rtl"
    assert main(["rtl", "--out", str(out), "--yosys-fit"]) == 0
    assert len(json.loads((out / fit.RECORD).read_text())["rounds"]) == 1


def test_never_fitting_is_refused_with_a_fix(tmp_path, monkeypatch, capsys):
    # yosys always just over the reserve: three rounds, then a refusal naming a slower target
    monkeypatch.setattr(est, "estimate", lambda d, b="zybo", cache=True: {"LUT": 14081, "FF": 1,
                                                                        "BRAM36": 0})
    with pytest.raises(AccelError, match=r"after 3 mappings yosys still counts LUT 14,081 "
                                         r"of 14,080 on the zybo: ask for a slower design "
                                         r"\(--target-fps \d+\)"):
        fit.write_checked(load_model(DEFAULT_MODEL), tmp_path / "rtl", None, "zybo")
    # yosys far over: scaled to it, the mapper finds nothing; one line, exit 2
    monkeypatch.setattr(est, "estimate", stand_in(3.0))
    assert main(["rtl", "--out", str(tmp_path / "r2"), "--yosys-fit"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "yosys counts LUT" in err and "no design fits" in err


def test_block_ram_over_the_reserve_is_checked_too(tmp_path, monkeypatch):
    """BRAM36 is exact per block, but buffers the mapper plans outside its per-layer costs can
    add some: yosys' count is held to the 90 % reserve as LUT and FF are."""
    monkeypatch.setattr(est, "estimate", stand_in(1.0, bram=10.0))  # far over 54 RAMB36
    out = tmp_path / "rtl"
    try:
        fit.write_checked(load_model(DEFAULT_MODEL), out, None, "zybo", log=lambda _: None)
    except AccelError as e:
        assert "BRAM36" in str(e)
    rounds = json.loads((out / fit.RECORD).read_text())["rounds"]
    assert rounds[0]["yosys"]["BRAM36"] > rounds[0]["limit"]["BRAM36"]
    assert len(rounds) == 1 or rounds[1]["scale"]["BRAM36"] > 1
