"""SqueezeNet's max-pools on both builds, by the resource model and by yosys: accel_swu +
accel_maxpool (a line buffer) against accel_pool (partial maxima), each block synthesized alone
as benchmarks/resource_fit.py does (its cache: the fit's own runs cost nothing here; others run
one yosys at a time), and the cycles per image of each (accel.rtl.fold).

    .venv/bin/python benchmarks/pool_compare.py [--pe 1 2 4 8]
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import resource_fit as rf  # noqa: E402
from accel.core.ir import pool_out_size  # noqa: E402
from accel.rtl import fold, resources  # noqa: E402

KEYS = ("LUT", "FF", "BRAM36")


def builds(c: int, w: int, pe: int) -> dict:
    oh = pool_out_size(w, 3, 2, 0, 0, True)
    line = [("accel_swu", dict(C=c, BITS=8, H=w, W=w, K=3, S=2, PT=0, PL=0, OH=oh, OW=oh,
                               ZERO_PAD=0, **({"CHUNK": pe} if pe < c else {}))),
            ("accel_maxpool", dict(C=c, BITS=8, SIGNED=0, BEATS=9, PE=pe))]
    pool = [("accel_pool", dict(C=c, BITS=8, SIGNED=0, H=w, W=w, K=3, S=2, PT=0, PL=0, OH=oh,
                                OW=oh, PE=pe))]
    cyc = {"line": max(oh * oh * 9, w * w) * (c // pe),
           "pool": fold.pool_cycles(w, w, 3, 2, 0, 0, oh, oh, c // pe)}
    return {"line": (line, cyc["line"]), "pool": (pool, cyc["pool"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pe", type=int, nargs="*", default=[1])
    args = ap.parse_args()
    rows = [(c, w, pe, name, items, cyc) for c, w in rf.SQUEEZENET_POOLS for pe in args.pe
            for name, (items, cyc) in builds(c, w, pe).items()]
    cells = {rf.item_key(m, p): got for m, p, got in
             rf.run_all([it for r in rows for it in r[4]], 1, "pools")}
    print(f"{'C/W':>8} {'PE':>3} {'build':>5} {'cycles':>9} | model LUT   FF  BRAM36 | "
          f"yosys LUT   FF  BRAM36")
    for c, w, pe, name, items, cyc in rows:
        mod = {k: sum(resources.instance(m, p)[k] for m, p in items) for k in KEYS}
        ys = {k: 0.0 for k in KEYS}
        for m, p in items:
            t = rf.target(cells[rf.item_key(m, p)])
            ys["LUT"] += t["LUT"] + t["LUT_memory"]
            ys["FF"] += t["FF"]
            ys["BRAM36"] += t["BRAM36"]
        print(f"{c:>4}/{w:<3} {pe:>3} {name:>5} {cyc:>9,} | {mod['LUT']:>9.0f} {mod['FF']:>5.0f} "
              f"{mod['BRAM36']:>6.1f} | {ys['LUT']:>9.0f} {ys['FF']:>5.0f} {ys['BRAM36']:>6.1f}")


if __name__ == "__main__":
    main()
