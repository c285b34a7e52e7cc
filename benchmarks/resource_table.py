"""The resource model against yosys on RTL projects that yosys has already synthesized (no
synthesis here): for each project, the model's figures recorded in its accel_rtl.json at
generation (accel.rtl.resources, total and per layer) next to the cached yosys result of the same
RTL (accel.rtl.estimate's cache, keyed by the project's contents), and the error.

    .venv/bin/python benchmarks/resource_table.py NAME=RTL_DIR ... [--note TEXT]

For the table of benchmarks/resource_check.py when the RTL library or the model changed between
yosys runs: each row pairs the model and the yosys run of one and the same generated project.
Records benchmarks/results/resource_model.{json,md}.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel.core.cache import folder, tree_hash  # noqa: E402
from accel.core.cache import key as content_key  # noqa: E402
from accel.rtl.estimate import script, summarize  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
KEYS = ("LUT", "FF", "DSP", "BRAM36")
TOLERANCE = {"LUT": 0.15, "FF": 0.15, "DSP": 0.0, "BRAM36": 0.0}


def cached_yosys(rtl: Path) -> dict | None:
    man = json.loads((rtl / "accel_rtl.json").read_text())
    key = content_key(script(man), tree_hash(rtl, *man["files"], *man["mem_files"]))
    path = folder("rtl", "yosys") / f"{key[:24]}.json"
    return json.loads(path.read_text()) | {"key": key[:24]} if path.is_file() else None


def error(m: float, y: float) -> float:
    return round((m - y) / y, 4) if y else (0.0 if m == y else float("inf"))


def row(name: str, rtl: Path) -> dict:
    man = json.loads((rtl / "accel_rtl.json").read_text())
    ys = cached_yosys(rtl)
    if ys is None:
        return {"net": name, "rtl": str(rtl), "yosys": "not synthesized"}
    total = summarize(ys["cells"])
    model = man["estimate"]["resources"]
    convs = [l for l in man["layers"] if l["kind"] == "conv"]
    r = {"net": name, "rtl": str(rtl), "yosys_key": ys["key"],
         "board": man["fold"].get("mapping", {}).get("board"),
         "multipliers": man["estimate"]["multipliers"],
         "fold": {l["name"]: f"{l['pe']}x{l['simd']} {l.get('mul', '')}".strip() for l in convs}}
    for k in KEYS:
        r[k] = {"yosys": total[k], "model": round(model["total"][k], 1),
                "error": error(model["total"][k], total[k])}
    r["ok"] = all(abs(r[k]["error"]) <= TOLERANCE[k] + 1e-9 for k in KEYS)
    ml = {l["layer"]: l for l in model["layers"]}
    r["layers"] = [{"layer": l["layer"], **{k: [l[k], round(ml.get(l["layer"], {}).get(k, 0), 1)]
                                            for k in KEYS}} for l in ys["layers"]]
    # which kind of block the model misses most: (model - yosys) summed per layer kind
    kinds = {l["name"]: l["kind"] for l in man["layers"]}
    by_kind: dict = {}
    for l in r["layers"]:
        kind = kinds.get(l["layer"], l["layer"])
        d = by_kind.setdefault(kind, {k: [0, 0] for k in ("LUT", "FF")})
        for k in ("LUT", "FF"):
            d[k][0] += l[k][0]
            d[k][1] += l[k][1]
    r["by_kind"] = {kind: {k: {"yosys": v[k][0], "model": round(v[k][1]),
                               "diff": round(v[k][1] - v[k][0])} for k in v}
                    for kind, v in by_kind.items()}
    return r


def markdown(rows: list, note: str) -> str:
    lines = ["# Resource model vs yosys on whole nets", "",
             "Error = (model - yosys) / yosys; the goal: LUT and FF within 15 %, DSP48E1 and "
             "BRAM36 exact. Each row pairs the model's figures recorded at generation "
             "(accel_rtl.json) with yosys `synth_xilinx -family xc7` of the same project "
             "(`benchmarks/resource_table.py`).", ""]
    if note:
        lines += [note, ""]
    lines += ["| net | multipliers | LUT yosys | LUT model | err | FF yosys | FF model | err "
              "| DSP y/m | BRAM36 y/m | ok |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "LUT" not in r:
            lines.append(f"| {r['net']} | | not synthesized | | | | | | | | |")
            continue
        lines.append(
            f"| {r['net']} | {r['multipliers']} | {r['LUT']['yosys']} | {r['LUT']['model']:.0f} | "
            f"{100 * r['LUT']['error']:+.1f} % | {r['FF']['yosys']} | {r['FF']['model']:.0f} | "
            f"{100 * r['FF']['error']:+.1f} % | {r['DSP']['yosys']} / {r['DSP']['model']:g} | "
            f"{r['BRAM36']['yosys']:g} / {r['BRAM36']['model']:g} | "
            f"{'yes' if r['ok'] else 'NO'} |")
    lines += ["", "Model - yosys by block kind (LUT, FF), summed over the layers of that kind:", "",
              "| net | " + " | ".join(("conv", "maxpool", "concat", "gap")) + " | glue/other |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        if "by_kind" not in r:
            continue
        bk = r["by_kind"]
        main = ("conv", "maxpool", "concat", "gap")
        other = {k: sum(v[k]["diff"] for kind, v in bk.items() if kind not in main)
                 for k in ("LUT", "FF")}
        cell = lambda d: f"LUT {d['LUT']:+d}, FF {d['FF']:+d}"  # noqa: E731
        lines.append(f"| {r['net']} | " + " | ".join(
            cell({k: bk[kind][k]["diff"] for k in ("LUT", "FF")}) if kind in bk else "-"
            for kind in main) + f" | {cell(other)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("projects", nargs="+", help="NAME=RTL_DIR (an `accel rtl` output)")
    ap.add_argument("--note", default="", help="a line of provenance for the table")
    args = ap.parse_args()
    rows = []
    for p in args.projects:
        name, _, d = p.partition("=")
        rows.append(row(name, Path(d)))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "resource_model.json").write_text(
        json.dumps({"note": args.note, "nets": rows}, indent=1) + "\n")
    text = markdown(rows, args.note)
    (RESULTS / "resource_model.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
