"""Stage rtl (--backend rtl): our Verilog (accel.rtl) folded by the build's fold spec, its yosys
estimate checked against the board, and its cocotb simulation on the golden vectors compared with
the golden model. The fold chosen is written beside it (rtl/fold.json, fold.yaml's layout: give
it back with --fold to build the same folding again), as FINN writes auto_folding_config.json."""

import json

from accel.core import atomic, cache, config, stream
from accel.core.errors import AccelError
from accel.flow import stamps
from accel.flow.context import VerificationFailed, fit_check
from accel.rtl import estimate, generate, sim
from accel.rtl.fold import FOLDED
from accel.verify import compare


FOLD_FILE = "fold.json"


def key(ctx) -> str:
    """The golden vectors, the board and the fold spec (its content, target and clock)."""
    return cache.key("rtl", ctx.keys["golden"], ctx.board.name, ctx.fold,
                     cache.module_hash(__name__))


def fold_table(manifest: dict) -> list:
    """Per layer: the fold, DSP48E1s and cycles per image the generator planned; the slowest
    layer (the design's image interval) marked, for the build report."""
    slowest = manifest["estimate"]["bottleneck"]
    return [{**{k: l.get(k) for k in ("name", "kind", "pe", "simd", "mul", "dsps", "cycles")},
             "bottleneck": l["name"] == slowest} for l in manifest["layers"]]


def chosen_fold(manifest: dict) -> dict:
    """The fold the generator chose, in fold.yaml's layout (every conv's and max-pool's own
    keys)."""
    settings = {k: v for k, v in manifest["fold"].items()
                if k in config.FoldSpec.model_fields and v is not None}
    per_layer = config.FoldLayer.model_fields
    return {**settings, "layers": {l["name"]: {k: l[k] for k in per_layer if k in l}
                                   for l in manifest["layers"] if l["kind"] in FOLDED}}


def run(ctx) -> dict:
    stage_key = key(ctx)
    hit = ctx.cached("rtl", stage_key)
    if hit:
        return hit
    tmp = atomic.make_temp(ctx.root / "rtl")
    try:
        rtl_dir = tmp / "accel"
        manifest = generate.write(ctx.qm, rtl_dir, fold=ctx.fold, board=ctx.board.name)
        fold = chosen_fold(manifest)
        (tmp / FOLD_FILE).write_text(json.dumps(fold, indent=1) + "\n")
        est = dict(estimate.estimate(str(rtl_dir), ctx.board.name))
        est["source"] = "accel.rtl.estimate (yosys)"
        need = {k: est[k] for k in ("LUT", "FF", "BRAM36") if isinstance(est.get(k), (int, float))}
        need["DSP48E1"] = est.get("DSP48E1", est.get("DSP", 0))
        fit = fit_check(ctx.board, need, "RTL resource estimate")
        if est.get("fits") is False:
            raise AccelError(f"the model does not fit {ctx.board.name} by the RTL estimate: "
                             f"{need} (capacity {ctx.board.capacity})")
        x, y, _ = ctx.golden_vectors()
        res = sim.simulate(str(rtl_dir), x)
        r = compare("rtl", y, stream.outputs_nchw(res["outputs"], manifest["io"]["output"]))
        result = {"level": "rtl simulation (cocotb)", "images": int(len(x)),
                  "output_mismatches": r.output_mismatches, "ii_cycles": res.get("ii_cycles"),
                  "latency_cycles": res.get("latency_cycles"),
                  "layers": [{k: l.get(k) for k in ("name", "cycles_per_image", "estimated_cycles")}
                             for l in res.get("layers", [])]}
        if r.mismatches:
            raise VerificationFailed(f"RTL simulation differs from the golden model: "
                                     f"{r.output_mismatches} output mismatches on {len(x)} images")
        info = {"stage": "rtl", "key": stage_key, "status": "done", "verify": result,
                "estimate": est, "fit": fit, "fold_spec": ctx.fold, "fold": FOLD_FILE,
                "layers": fold_table(manifest),
                "note": f"{need['DSP48E1']} multipliers; simulation vs golden: 0 mismatches "
                        f"({len(x)} images)"}
        stamps.commit(tmp, ctx.root / "rtl", info)
    finally:
        atomic.discard(tmp)
    return info
