"""accel hls checks its DSP48E1 / BRAM36 estimate (accel.hls.report) against the board before it
writes anything: a design that does not fit is exit 2 with the numbers and a fix, and the fix it
proposes really fits (each case below applies it and writes the project)."""

import re

import pytest
import yaml

from accel.cli import main
from accel.core import boards
from accel.core.modelfile import DEFAULT_MODEL, load_model
from accel.hls import generate, report


@pytest.fixture(scope="module")
def qm():
    return load_model(DEFAULT_MODEL)


def refused(capsys, tmp_path, config: str, board="zybo") -> tuple[str, dict]:
    """accel hls with the config text: one error line, exit 2, nothing written to --out."""
    (tmp_path / "user.yaml").write_text(config)
    out = tmp_path / "out"
    code = main(["hls", "--board", board, "--config", str(tmp_path / "user.yaml"),
                 "--out", str(out), "--tb-images", "1"])
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("accel: error: the HLS design needs ~"), err
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    return lines[0], yaml.safe_load(config)


def numbers(line: str) -> dict:
    m = re.search(r"needs ~(\d+) BRAM36 \(weights ~(\d+), stream FIFOs ~(\d+)\) and (\d+) DSP48E1; "
                  r"the \S+ \((\S+)\) has room for (\d+) BRAM36 \(90% of (\d+)\) and (\d+) DSP48E1",
                  line)
    assert m, line
    bram, w, f, dsp, part, room, total, dsp_room = m.groups()
    assert int(bram) == int(w) + int(f)
    return {"BRAM36": int(bram), "DSP48E1": int(dsp), "part": part, "room": int(room),
            "dsp_room": int(dsp_room), "total": int(total)}


def setting_fix(line: str) -> dict:
    """The YAML the message says to set (`...` items before ' in the HLS config')."""
    m = re.search(r"Fix: set (.*?) in the HLS config", line)
    assert m, line
    fix = {}
    for item in re.findall(r"`([^`]+)`", m[1]):
        fix = generate._merge(fix, yaml.safe_load(item))
    return fix


def fits(qm, tmp_path, cfg: dict, board: str) -> dict:
    meta = generate.write(qm, tmp_path / f"fixed-{board}", board=board, config=cfg)
    res, room = meta["estimate"]["resources"], meta["estimate"]["room"]
    assert res["BRAM36"] <= room["BRAM36"] and res["DSP48E1"] <= room["DSP48E1"]
    return res


def test_bram36_of_one_memory():
    assert report.bram36(64, 128) == 0       # 8 kbit: LUTRAM / SRL
    assert report.bram36(72, 512) == 1
    assert report.bram36(73, 512) == 2
    assert report.bram36(1024, 256) == 15    # wide and shallow: 512 x 72 blocks
    assert report.bram36(8, 4096) == 1       # 4K x 9
    assert report.bram36(16, 41472) == 21    # 2K x 18


def test_default_model_fits_the_zybo_and_records_its_estimate(qm, tmp_path):
    meta = generate.write(qm, tmp_path / "p", board="zybo")
    est = meta["estimate"]
    res, room = est["resources"], est["room"]
    zybo = boards.get("zybo").capacity
    assert room == {"BRAM36": int(0.9 * zybo["BRAM36"]), "DSP48E1": zybo["DSP48E1"]}
    assert 0 < res["BRAM36"] <= room["BRAM36"] and 0 < res["DSP48E1"] <= room["DSP48E1"]
    assert res["BRAM36"] == est["weights"]["bram36_estimate"] + est["fifos"]["bram36_estimate"]
    assert res["DSP48E1"] == est["multipliers"] == sum(r.get("multipliers", 0)
                                                       for r in meta["layers"])
    # every Resource conv with RF > 1 keeps its weights in a ROM of depth RF and width
    # multipliers x weight bits
    convs = {l.name: l for l in qm.layers if l.kind == "conv"}
    rows = [r for r in meta["layers"] if r["kind"] == "conv" and r["strategy"] == "Resource"
            and r["reuse_factor"] > 1]
    roms = [(r["multipliers"] * convs[r["name"]].wtype.bits, r["reuse_factor"]) for r in rows]
    assert est["weights"]["roms"] == len(roms) > 0
    assert est["weights"]["bits"] == sum(w * d for w, d in roms) == sum(
        convs[r["name"]].weight.size * convs[r["name"]].wtype.bits for r in rows)
    assert est["weights"]["bram36_estimate"] == sum(report.bram36(w, d) for w, d in roms) > 0
    text = (tmp_path / "p" / "report.txt").read_text()
    assert f"~{res['BRAM36']} of {zybo['BRAM36']} BRAM36" in text
    assert f"{res['DSP48E1']} DSP48E1 (conv multipliers) of {zybo['DSP48E1']}" in text


def test_too_many_multipliers_proposes_auto_reuse_factors(qm, capsys, tmp_path):
    line, user = refused(capsys, tmp_path, "defaults: {reuse_factor: 1}\n")
    n = numbers(line)
    assert n["DSP48E1"] == sum(l.fan_in * l.shape[0] for l in qm.layers if l.kind == "conv")
    assert n["DSP48E1"] > n["dsp_room"] == 80 and n["part"] == "xc7z010clg400-1"
    fix = setting_fix(line)
    assert fix == {"defaults": {"reuse_factor": "auto"}}
    fits(qm, tmp_path, generate.load_config(generate._merge(user, fix)), "zybo")


def test_whole_tensor_fifos_propose_reconvergent_or_a_board_of_another_part(qm, capsys, tmp_path):
    config = "fifo_depth: whole_tensor\nboards: {zybo: {bram36: 30}}\n"
    line, user = refused(capsys, tmp_path, config)
    n = numbers(line)
    assert n["BRAM36"] > n["room"] == 27 and n["total"] == 30
    fix = setting_fix(line)
    assert fix == {"fifo_depth": "reconvergent"}
    fits(qm, tmp_path, generate.load_config(generate._merge(user, fix)), "zybo")
    # the boards proposed have another part than the zybo's, and the design fits them as given
    proposed = re.findall(r"--board (\S+)", line)
    assert proposed and "zybo-z7-10" not in proposed
    for name in proposed:
        assert boards.get(name).part != n["part"]
        fits(qm, tmp_path, generate.load_config(user), name)


def test_nothing_fits_says_so_and_points_to_the_rtl_backend(capsys, tmp_path):
    tiny = "{bram36: 2}"
    line, _ = refused(capsys, tmp_path, f"boards: {{zybo: {tiny}, pynq-z2: {tiny}, "
                                        f"zybo-z7-20: {tiny}}}\n")
    numbers(line)
    assert "No HLS setting tried (smaller `multipliers`) fits it" in line
    assert "nor a board of another part: pynq-z2 or zybo-z7-20 (xc7z020clg400-1)" in line
    assert "accel rtl --board zybo" in line and "--board zybo-z7-10" not in line
