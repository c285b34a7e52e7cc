"""Does the HLS design fit its board? Its DSP48E1 / BRAM36 estimate (accel.hls.report) against the
board's room (accel.core.boards.RESERVE); when it is over, the refusal names the numbers and a fix
that was checked to fit: an hls.yaml setting on the same board, or a board of another part.
"""

from accel.core import boards as board_files
from accel.core.errors import AccelError
from accel.hls import report
from accel.hls.plan import _merge, plan


def check(qm, planned, cfg, board, fifo: dict) -> dict:
    """The design's DSP48E1 / BRAM36 estimate (accel.hls.report: `resources`) against the
    board's room; when it is over, AccelError with the numbers and a fix checked to fit: an
    hls.yaml setting on the same board, or a board of another part with more of what ran out.
    fifo: the FIFO estimate per fifo_depth policy (a setting may change it)."""
    res = report.resources(planned, fifo[cfg.get("fifo_depth", "reconvergent")])
    spec = cfg["boards"][board]
    over = report.short(res, spec)
    if not over:
        return res
    room = report.room(spec)
    need = (f"the HLS design needs ~{res['BRAM36']} BRAM36 (weights ~{res['BRAM36_weights']}, "
            f"stream FIFOs ~{res['BRAM36_fifos']}) and {res['DSP48E1']} DSP48E1; the {board} "
            f"({spec['part']}) has room for {room['BRAM36']} BRAM36 "
            f"({board_files.RESERVE['BRAM36']:.0%} of {spec['bram36']}) and {room['DSP48E1']} "
            f"DSP48E1")

    def trial(c, b):  # (fits, estimate, images/s) of config c on board b
        pl = plan(qm, c, b)
        r = report.resources(pl, fifo[c.get("fifo_depth", "reconvergent")])
        fps = report.totals(report.layers(qm, pl), c["clock_period_ns"])["images_per_second"]
        return not report.short(r, c["boards"][b]), r, fps

    def numbers(r, fps):
        return f"~{r['BRAM36']} BRAM36, {r['DSP48E1']} DSP48E1, ~{fps:g} images/s"

    fixes = []
    settings = candidates(cfg)
    # then a smaller multiplier budget (with every setting above): larger ReuseFactors, so fewer
    # DSP48E1s and deeper, narrower weight ROMs; the largest that fits is the fastest
    all_text, all_cfg = settings[-1] if settings else ("", cfg)
    budgets, m = [], int(spec["multipliers"]) // 2
    while m >= 1:
        text = f"`boards: {{{board}: {{multipliers: {m}}}}}`"
        budgets.append((f"{all_text} and {text}" if all_text else text,
                        _merge(all_cfg, {"boards": {board: {"multipliers": m}}})))
        m //= 2
    for text, c in settings + budgets:
        ok, r, fps = trial(c, board)
        if ok:
            fixes.append(f"set {text} in the HLS config (accel hls --config, accel build "
                         f"--hls-config): {numbers(r, fps)}")
            break
    names = {"BRAM36": "bram36", "DSP48E1": "dsp48"}
    larger = [b.name for b in board_files.larger(spec["part"], {r: spec[names[r]] for r in over},
                                                 over) if b.name in cfg["boards"]]
    found, missed = {}, {}  # outcome text -> the boards with it (boards of one part agree)
    for name in larger:
        part = cfg["boards"][name]["part"]
        # as configured; with the settings too only when they do not fit the board given
        for text, c in [("", cfg)] + ([] if fixes else settings):
            ok, r, fps = trial(c, name)
            if ok:
                with_ = f" with {text}" if text else ""
                found.setdefault(f"{with_} ({part}: {numbers(r, fps)})", []).append(name)
                break
        else:
            missed.setdefault(f"({part}) would need ~{r['BRAM36']} of "
                              f"{report.room(cfg['boards'][name])['BRAM36']} BRAM36 and "
                              f"{r['DSP48E1']} of {report.room(cfg['boards'][name])['DSP48E1']} "
                              f"DSP48E1", []).append(name)
    fixes += [" or ".join(f"--board {n}" for n in ns) + how for how, ns in found.items()]
    if fixes:
        raise AccelError(f"{need}. Fix: {'; or '.join(fixes)}")
    tried = ", ".join([t.split(" (")[0] for t, _ in settings] + ["smaller `multipliers`"])
    others = "".join(f"; nor a board of another part: {' or '.join(ns)} {how}"
                     for how, ns in missed.items())
    raise AccelError(f"{need}. No HLS setting tried ({tried}) fits it{others}. Try the RTL "
                     f"backend, which maps the model onto the board itself: accel rtl --board "
                     f"{board}; or use a smaller model (fewer channels, lower resolution)")


def candidates(cfg) -> list[tuple[str, dict]]:
    """hls.yaml changes that can shrink a design, as (YAML text, the config with it), one at a
    time and then together: fifo_depth reconvergent, ReuseFactor auto for every layer."""
    out = []
    if cfg.get("fifo_depth", "reconvergent") != "reconvergent":
        out.append(("`fifo_depth: reconvergent`", _merge(cfg, {"fifo_depth": "reconvergent"})))
    layers = cfg.get("layers") or {}
    fixed = [k for k, v in layers.items() if "reuse_factor" in (v or {})]
    if cfg["defaults"].get("reuse_factor") != "auto" or fixed:
        auto = dict(_merge(cfg, {"defaults": {"reuse_factor": "auto"}}),
                    layers={k: {f: x for f, x in (v or {}).items() if f != "reuse_factor"}
                            for k, v in layers.items()})
        drop = f" (no reuse_factor for {', '.join(fixed)})" if fixed else ""
        out.append((f"`defaults: {{reuse_factor: auto}}`{drop}", auto))
        if len(out) == 2:
            out.append((f"{out[0][0]} and {out[1][0]}",
                        dict(out[1][1], fifo_depth="reconvergent")))
    return out
