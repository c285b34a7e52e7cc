"""Stage hls: the hls4ml Vitis HLS project (accel.hls) with the golden vectors as its testbench,
its g++ C-sim compared with the golden model (outputs and every layer), and its resource estimate
checked against the board."""

import json

from accel.core import atomic, cache
from accel.flow import stamps
from accel.flow.context import VerificationFailed, fit_check
from accel.hls import csim, generate, report
from accel.verify import compare


def config(board, user: dict | None = None, source: str = "HLS config") -> dict:
    """accel/hls/hls.yaml with the user's mapping merged over it (checked as a whole), an entry
    for a board it does not list (from the board file: 80 % of the DSP48E1s for the conv
    multipliers, as hls.yaml does for its boards), and the board's clock (the build's one clock,
    accel.flow.options)."""
    cfg = generate.load_config(user, source)
    if board.name not in cfg["boards"]:
        cfg["boards"][board.name] = {
            "part": board.part, "multipliers": max(1, int(0.8 * board.capacity["DSP48E1"])),
            "dsp48": board.capacity["DSP48E1"], "bram36": board.capacity["BRAM36"]}
    ns = round(board.clock_ns, 3)
    cfg["clock_period_ns"] = int(ns) if float(ns).is_integer() else ns
    return cfg


def early_fit(ctx) -> dict:
    """The conv multipliers of the HLS plan against the board, before any stage runs."""
    planned = generate.plan(ctx.qm, ctx.hls_config, ctx.board.name)
    mults = sum(report.multipliers(p) for p in planned if p.layer.kind == "conv")
    return fit_check(ctx.board, {"DSP48E1": mults}, "HLS multiplier estimate")


def key(ctx) -> str:
    """The golden vectors, the board and the whole HLS config (the user's merged in, the clock)."""
    return cache.key("hls", ctx.keys["golden"], ctx.board.name, ctx.hls_config,
                     cache.module_hash(__name__))


def run(ctx) -> dict:
    cfg = ctx.hls_config
    stage_key = key(ctx)
    hit = ctx.cached("hls", stage_key)
    if hit:
        return hit
    tmp = atomic.make_temp(ctx.root / "hls")
    try:
        x, y, trace = ctx.golden_vectors()
        n_tb = min(len(x), cfg["tb_images"])
        tb_source = f"the first {n_tb} of {len(x)} golden vectors ({ctx.info['golden']['source']})"
        meta = generate.write(ctx.qm, tmp / "project", board=ctx.board.name, config=cfg,
                              testbench=(x[:n_tb], y[:n_tb], tb_source), force=True)
        est = meta["estimate"]
        # the backend's own estimate (accel.hls.report; write() refused what does not fit)
        need = {k: est["resources"][k] for k in ("DSP48E1", "BRAM36")}
        fit = fit_check(ctx.board, need, "HLS resource estimate")
        sim = csim.CSim(tmp / "project")
        tb_code, tb_line = sim.testbench()
        got, got_trace = sim.run(x, trace=True)
        r = compare("hls", y, got, trace, got_trace)
        result = {"level": "hls C-sim (g++)", "images": int(len(x)),
                  "output_mismatches": r.output_mismatches,
                  "layer_mismatches": {k: m for k, (_, m) in r.layers.items()},
                  "layers_compared": len(r.layers), "testbench": tb_line,
                  "testbench_ok": tb_code == 0,
                  # which compiled C-sim ran (its content key); whether it came from the cache
                  # and how long it took depend on the run, not the build: not recorded here, so
                  # an interrupted build resumed equals an uninterrupted one byte for byte
                  "library": sim.build_info["key"]}
        (tmp / "csim.json").write_text(json.dumps(result, indent=1) + "\n")
        if r.mismatches or tb_code:
            raise VerificationFailed(
                f"HLS C-sim differs from the golden model: {r.output_mismatches} output and "
                f"{r.mismatches - r.output_mismatches} layer mismatches on {len(x)} images "
                f"({tb_line})")
        info = {"stage": "hls", "key": stage_key, "status": "done", "verify": result,
                "estimate": est, "fit": fit,
                "note": f"C-sim vs golden: 0 mismatches ({len(x)} images, outputs + "
                        f"{len(r.layers)} layers); {est['multipliers']} multipliers, "
                        f"~{need['BRAM36']} BRAM36"}
        stamps.commit(tmp, ctx.root / "hls", info)
    finally:
        atomic.discard(tmp)
    return info
