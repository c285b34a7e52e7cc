"""Board-aware mapping: the fold (PE x SIMD and multiplier style per convolution) of the fastest
design that fits the board, or of the cheapest one that meets a target rate.

The layers run as a dataflow pipeline, so the images/s are set by the slowest layer: a design is
one cycle budget T per image, and for a given T each convolution independently takes its
cheapest option (fold.options) whose cycles are <= T. "Cheapest" weighs LUT, FF, DSP48E1 and
BRAM36 by their share of the budget; when the sum over the layers overflows a resource, that
resource's weight is raised and the choice made again (a few rounds of a Lagrangian relaxation),
so DSP-hungry layers move to packed or LUT multipliers only when DSPs are what runs out. The
mapper then searches the smallest T that fits (FINN's SetFolding does the same walk for a target;
here the budget is the board's, the costs come from the resource model accel.rtl.resources).

    mapping = map_model(qm, board, clock_mhz, target_fps=None, fixed={name: Fold}, cost=...)

The budget is the board's capacity minus a reserve for what Vivado adds around the accelerator
(PS7, AXI DMA, interconnect, ~2-3k LUT): RESERVE below, stated in every refusal; the plan keeps
within it by the resource model plus the model's measured error (resources.MARGIN), so that
yosys agrees.

Weights on chip or in DDR: the mapper first plans every weight on chip. A second plan may also
put convolutions' weights in DDR (fold.ddr_options: accel_mvau_tile reading its weights once
per tile), with the DDR read traffic as a fifth budget (DDR_MB_S at the design's rate); it is
taken when the on-chip plan does not fit or is DDR_GAIN times slower. Weights stay on chip
otherwise: no HP port, no DDR traffic, nothing to load at run time.
"""

from dataclasses import dataclass, field

import numpy as np

from accel.core import boards
from accel.core.errors import AccelError
from accel.rtl.ddr import layer_bytes
from accel.rtl import fold as folding

RESOURCES = ("LUT", "FF", "DSP", "BRAM36")
# Share of the board the accelerator may take; the rest is for the PS7/DMA/interconnect.
RESERVE = {"LUT": boards.RESERVE["LUT"], "FF": boards.RESERVE["FF"],
           "DSP": boards.RESERVE["DSP48E1"], "BRAM36": boards.RESERVE["BRAM36"]}
ROUNDS = 12  # re-weighting rounds per cycle budget
# The DDR read bandwidth weights may take: half of one 64-bit HP port's ~1.2 GB/s at 100 MHz
# (issue 14), the rest left to the input/output DMA and to stalls.
DDR_MB_S = 600.0
DDR_GAIN = 1.2  # a plan with DDR weights must be this much faster to beat the on-chip one


def capacity(board) -> np.ndarray:
    c = board.capacity
    return np.array([c["LUT"], c["FF"], c["DSP48E1"], c["BRAM36"]], dtype=float)


def budget(board, reserve: dict = RESERVE) -> np.ndarray:
    """What the resource model may count: the board's share `reserve`, less the model's margin."""
    from accel.rtl.resources import MARGIN

    return capacity(board) * np.array([reserve[r] / (1 + MARGIN[r]) for r in RESOURCES])


def as_dict(v) -> dict:
    return {r: float(x) for r, x in zip(RESOURCES, v)}


@dataclass
class Mapping:
    board: str
    clock_mhz: float
    folds: dict  # conv or max-pool name -> Fold
    cycles: dict  # layer name -> cycles per image (every layer)
    used: np.ndarray  # LUT, FF, DSP, BRAM36 of the whole design (the resource model)
    budget: np.ndarray
    capacity: np.ndarray
    target_fps: float | None = None
    layer_cost: dict = field(default_factory=dict)  # folded layer -> its fold-dependent part
    convs: tuple = ()  # the convolutions among the folded layers (the others are max-pools)
    ddr_bytes: int = 0  # weight bytes read from DDR per image (tiled convs)

    @property
    def ii_cycles(self) -> int:
        return max(self.cycles.values())

    @property
    def images_per_s(self) -> float:
        return self.clock_mhz * 1e6 / self.ii_cycles

    @property
    def bottleneck(self) -> str:
        return max(self.cycles, key=self.cycles.get)

    @property
    def fits(self) -> bool:
        return bool(np.all(self.used <= self.budget + 1e-9))

    @property
    def ddr_mb_s(self) -> float:
        """DDR read bandwidth of the weights at the design's rate."""
        return self.ddr_bytes * self.images_per_s / 1e6

    def to_json(self) -> dict:
        """The chosen fold as accel_rtl.json and the build write it (FINN's auto_folding_config)."""
        return {"board": self.board, "clock_mhz": self.clock_mhz, "target_fps": self.target_fps,
                "images_per_s": round(self.images_per_s, 1), "ii_cycles": self.ii_cycles,
                "bottleneck": self.bottleneck, "reserve": RESERVE,
                "used": as_dict(self.used), "budget": as_dict(self.budget),
                "capacity": as_dict(self.capacity),
                "ddr": {"bytes_per_image": self.ddr_bytes, "mb_s": round(self.ddr_mb_s, 1),
                        "budget_mb_s": DDR_MB_S},
                "layers": {n: ({"pe": f.pe, "simd": f.simd, "mul": f.mul,
                                **({"tile": f.tile} if f.tile else {})}  # fold.yaml's keys
                               if n in self.convs else
                               {"pe": f.pe, **({"line": True} if f.line else {})})
                           for n, f in self.folds.items()}}


class Table:
    """Every option of every folded layer (convolutions, max-pools): its cycles and its
    fold-dependent resources, [LUT, FF, DSP, BRAM36, DDR bytes per image]. With ddr, every conv
    not held by --fold also gets its options with the weights in DDR (fold.ddr_options)."""

    def __init__(self, qm, cost, fixed: dict, ddr: bool = False):
        from accel.rtl.netlist import fold_beat_convs

        folded = [l for l in qm.layers if l.kind in folding.FOLDED]
        beats = fold_beat_convs(qm)
        self.other = {l.name: folding.fixed_cycles(l) for l in qm.layers
                      if l.kind not in folding.FOLDED}
        self.opts, self.cyc, self.res = {}, {}, {}
        for l in folded:
            opts = fixed.get(l.name) or folding.options(l)
            if ddr and l.kind == "conv" and l.name not in fixed:
                opts = opts + folding.ddr_options(l, opts)
            self.opts[l.name] = opts
            self.cyc[l.name] = np.array([folding.layer_cycles(l, f, l.name in beats)
                                         for f in opts])
            self.res[l.name] = np.array(
                [list(cost(l, f)) + [layer_bytes(l, f) if l.kind == "conv" else 0]
                 for f in opts], dtype=float)

    def floor(self) -> int:
        """The fewest cycles per image any design reaches: the slowest layer at its fastest."""
        return max([int(c.min()) for c in self.cyc.values()] + list(self.other.values()) + [1])

    def budgets(self) -> list[int]:
        """The cycle budgets worth trying: every option's cycles at or above the floor."""
        lo = self.floor()
        every = np.unique(np.concatenate([c for c in self.cyc.values()] + [np.array([lo])]))
        return [int(t) for t in every if t >= lo]

    def choose(self, t: int, weights: np.ndarray) -> dict:
        """Per conv, the index of the option meeting t with the least weighted cost."""
        pick = {}
        for name, cyc in self.cyc.items():
            ok = np.flatnonzero(cyc <= t)
            if not len(ok):
                return {}
            score = self.res[name][ok] @ weights
            # ties: fewer cycles, then the option listed first (fold.options' order)
            pick[name] = int(ok[np.lexsort((cyc[ok], score))[0]])
        return pick

    def total(self, pick: dict) -> np.ndarray:
        return sum((self.res[n][i] for n, i in pick.items()), np.zeros(len(RESOURCES) + 1))

    def ii(self, pick: dict) -> int:
        """The design's cycles per image: its slowest layer (at most the budget it was chosen
        for, often less)."""
        return max([int(self.cyc[n][i]) for n, i in pick.items()] + list(self.other.values())
                   + [1])


def _fit(table: Table, t: int, base: np.ndarray, rooms):
    """A choice at cycle budget t that fits, if the re-weighting finds one -> (pick, used,
    fits); else the choice with the smallest largest share of the budget. rooms(t): the budget
    (the DDR bytes an image may read depend on the rate: taken at the choice's own cycles per
    image, which may be fewer than t, so that its DDR MB/s stay within DDR_MB_S). The weights
    start at 1/budget and follow the shares: a resource the design leaves idle (DSPs under LUT
    multipliers, say) gets cheap, one that overflows dear (damped: the geometric mean with the
    previous weights, so the choice settles instead of swinging)."""
    weights = 1.0 / np.maximum(rooms(t), 1e-9)
    best = None
    for _ in range(ROUNDS):
        pick = table.choose(t, weights)
        if not pick:
            return None, None, False
        room = rooms(table.ii(pick))
        used = base + table.total(pick)
        share = used / np.maximum(room, 1e-9)
        if share.max() <= 1 + 1e-9:
            return pick, used, True
        if best is None or share.max() < best[2]:
            best = (pick, used, share.max())
        target = weights * np.maximum(share, 0.02) / share.max()
        weights = np.sqrt(weights * target) * np.where(share > 1, 2.0, 1.0)
    pick, used = _repair(table, t, best[0], base, rooms(table.ii(best[0])))
    return pick, used, bool(np.all(used <= rooms(table.ii(pick)) + 1e-9))


def _repair(table: Table, t: int, pick: dict, base: np.ndarray, room: np.ndarray):
    """Local search after the relaxation, which can stop just over one resource with another
    idle (a knapsack's integer gap): swap one layer's option at a time for the one that cuts
    the overflow most without overflowing anything else, until it fits or no swap helps."""
    pick = dict(pick)
    used = base + table.total(pick)
    for _ in range(4 * len(pick)):
        over = np.maximum(used - room, 0) / np.maximum(room, 1e-9)
        if not over.any():
            break
        gain, swap = 0.0, None
        for name, cyc in table.cyc.items():
            ok = np.flatnonzero(cyc <= t)
            new = used - table.res[name][pick[name]] + table.res[name][ok]  # every swap at once
            spoil = np.any((new > room + 1e-9) & (used <= room + 1e-9), axis=1)
            g = over.sum() - (np.maximum(new - room, 0) / np.maximum(room, 1e-9)).sum(axis=1)
            g[spoil] = -np.inf  # would overflow a resource that fits now
            j = int(np.argmax(g)) if len(g) else 0
            if len(g) and g[j] > gain + 1e-12:
                gain, swap = g[j], (name, int(ok[j]), new[j])
        if swap is None:
            break
        pick[swap[0]], used = swap[1], swap[2]
    return pick, used


def map_model(qm, board, clock_mhz: float | None = None, target_fps: float | None = None,
              fixed: dict | None = None, cost=None, base=None,
              reserve: dict = RESERVE, ddr: bool = True, scale=None) -> Mapping:
    """The fastest fold that fits `board` (or, with target_fps, the cheapest meeting it).
    cost(layer, fold) -> [LUT, FF, DSP, BRAM36] of the fold-dependent part of a convolution or
    max-pool; base: the design's fold-independent resources (FIFOs, concats, GAP, io). Both default to
    the resource model. ddr: may weights go to DDR (module doc: only where the on-chip plan does
    not fit or is DDR_GAIN times slower). scale: per resource (LUT, FF, DSP, BRAM36), what yosys
    counted over what the model said on an earlier design (accel.rtl.fit): the budget shrinks
    by it. Raises AccelError (exit 2) when nothing fits, with the numbers and a fix."""
    from accel.rtl import fold_costs

    board = boards.get(board) if isinstance(board, str) else board
    clock = float(clock_mhz or board.clock_mhz)
    fixed = fixed or {}
    if cost is None:
        cost, base = fold_costs.conv_cost(qm), fold_costs.fixed_cost(qm)
    base = np.zeros(len(RESOURCES)) if base is None else np.asarray(base, dtype=float)
    base = np.append(base[:len(RESOURCES)], 0.0)
    room, cap = budget(board, reserve), capacity(board)
    if scale is not None:
        room = room / np.asarray(scale, dtype=float)

    def rooms(t):  # the DDR bytes an image may read at t cycles per image
        return np.append(room, DDR_MB_S * t / clock)

    def plan(table):
        """(pick, used, t) of the fastest fitting design (or the cheapest meeting target_fps),
        or (None, used of the slowest try, t)."""
        budgets = table.budgets()
        if target_fps is not None:
            want = int(clock * 1e6 / target_fps)
            t = next((b for b in reversed(budgets) if b <= want), None)
            if t is None:
                return None, None, None
            pick, used, ok = _fit(table, t, base, rooms)
            if not ok:
                failed[:] = [table, pick]
            return (pick if ok else None), used, t
        best = _fastest(table, budgets, base, rooms)
        if best is not None:
            return best
        pick, used, _ = _fit(table, budgets[-1], base, rooms)
        failed[:] = [table, pick]
        return None, used, budgets[-1]

    failed = []  # (table, pick) of the last plan that did not fit: the refusal names its layers

    def result(table, pick, used):
        folds = {n: table.opts[n][i] for n, i in pick.items()}
        cycles = {l.name: (int(table.cyc[l.name][pick[l.name]]) if l.name in pick
                           else table.other[l.name]) for l in qm.layers}
        return Mapping(board.name, clock, folds, cycles, used[:len(RESOURCES)], room, cap,
                       target_fps, {n: as_dict(table.res[n][i]) for n, i in pick.items()},
                       tuple(l.name for l in qm.layers if l.kind == "conv"), int(used[-1]))

    chip = Table(qm, cost, fixed)
    tables = [chip]
    pick, used, t = plan(chip)
    found = result(chip, pick, used) if pick is not None else None
    if ddr and (found is None or target_fps is None):
        mixed = Table(qm, cost, fixed, ddr=True)
        tables.append(mixed)
        mpick, mused, mt = plan(mixed)
        if mpick is not None and (found is None or mt * DDR_GAIN <= t):
            return result(mixed, *_back_on_chip(mixed, mt, mpick, base, rooms(mt)))
        if found is None and mused is not None:
            used, t = mused, mt
    if found is not None:
        return found
    if t is None:
        raise AccelError(f"--target-fps {target_fps:g}: the fastest design of this model "
                         f"reaches {clock * 1e6 / chip.floor():,.0f} images/s at {clock:g} MHz "
                         f"(the slowest layer at its fastest fold); ask for at most that")
    room5 = rooms(t)
    heavy = _heaviest(*failed, used, room5) if failed and failed[1] else ""
    if target_fps is not None:
        fastest = [(b[2], result(tb, b[0], b[1])) for tb in tables
                   if (b := _fastest(tb, tb.budgets(), base, rooms)) is not None]
        best = min(fastest, key=lambda x: x[0])[1] if fastest else None
        fix = (f"the fastest design that fits is {best.images_per_s:,.0f} images/s: "
               f"--target-fps {int(best.images_per_s)} (or leave --target-fps out)"
               if best else _bigger(qm, board, clock, used, room5, cost, base, reserve))
        raise AccelError(_refusal(board, used, room5, cap, f"--target-fps {target_fps:g}", fix,
                                  reserve, heavy))
    if fixed:
        free = map_model(qm, board, clock, cost=cost, base=base, reserve=reserve, ddr=ddr)
        fix = f"leave --fold out: the mapper's design fits at {free.images_per_s:,.0f} images/s"
        raise AccelError(_refusal(board, used, room5, cap, "the --fold layers", fix, reserve,
                                  heavy))
    raise AccelError(_refusal(board, used, room5, cap, "even the slowest fold",
                              _bigger(qm, board, clock, used, room5, cost, base, reserve),
                              reserve, heavy))


def _heaviest(table, pick, used, room) -> str:
    """The layers taking most of each resource that overflows (of the plan that did not fit):
    what to shrink (fewer channels, lower resolution, fewer bits) or where the model's size
    goes."""
    parts = []
    for i, r in enumerate(RESOURCES):
        if used[i] <= room[i] + 1e-9:
            continue
        top = sorted(pick, key=lambda n: -table.res[n][pick[n]][i])[:3]
        parts.append(f"{r}: " + ", ".join(
            f"{n} {table.res[n][pick[n]][i]:,.0f} ({_what(table.opts[n][pick[n]])})"
            for n in top))
    return "; ".join(parts)


def _what(f) -> str:
    if f.simd == 1 and f.mul == "dsp" and not f.tile and f.par == 1:
        return f"pe {f.pe}" + (", line buffer" if f.line else "")
    return (f"pe {f.pe} simd {f.simd} {f.mul}" + (f", weights in DDR, tile {f.tile}"
                                                   if f.tile else ""))


def _back_on_chip(table: Table, t: int, pick: dict, base: np.ndarray, room: np.ndarray):
    """Each layer the plan put in DDR back on chip where the design still fits at t (smallest
    weight traffic first): every DDR layer is one more AXI master, one more port on the
    interconnect and traffic on the HP port, so DDR holds only what has to be there."""
    pick = dict(pick)
    used = base + table.total(pick)
    ddr = sorted((n for n, i in pick.items() if table.opts[n][i].tile),
                 key=lambda n: table.res[n][pick[n]][-1])
    for name in ddr:
        ok = [i for i in np.flatnonzero(table.cyc[name] <= t) if not table.opts[name][i].tile]
        fits = [(float(table.res[name][i][:-1] @ (1 / np.maximum(room[:-1], 1e-9))), i)
                for i in ok
                if np.all(used - table.res[name][pick[name]] + table.res[name][i] <= room + 1e-9)]
        if fits:
            i = min(fits)[1]
            used = used - table.res[name][pick[name]] + table.res[name][i]
            pick[name] = i
    return pick, used


def _fastest(table, budgets, base, rooms):
    """(pick, used, t) at the smallest cycle budget that fits, or None. Binary search: a larger
    budget never needs more (each layer's cheapest option at t is also allowed at t' > t, and
    the DDR bytes an image may read grow with t)."""
    lo, hi = 0, len(budgets) - 1
    pick, used, ok = _fit(table, budgets[hi], base, rooms)
    if not ok:
        return None
    found = (pick, used, budgets[hi])
    while lo < hi:
        mid = (lo + hi) // 2
        pick, used, ok = _fit(table, budgets[mid], base, rooms)
        if ok:
            found, hi = (pick, used, budgets[mid]), mid
        else:
            lo = mid + 1
    return found


def _refusal(board, used, room, cap, what, fix, reserve, heavy: str = "") -> str:
    from accel.rtl.resources import MARGIN

    def share(i, r):
        less = f" less the model's {MARGIN[r]:.0%} margin" if MARGIN[r] else ""
        return f"{reserve[r]:.0%} of {cap[i]:,.0f}{less}"
    nums = [f"{r} {used[i]:,.0f} of {room[i]:,.0f} ({share(i, r)})"
            for i, r in enumerate(RESOURCES) if used[i] > room[i] + 1e-9]
    if len(used) > len(RESOURCES) and used[-1] > room[-1] + 1e-9:  # the DDR weight reads
        nums.append(f"DDR weight reads {used[-1] / 1e6:,.2f} MB per image of "
                    f"{room[-1] / 1e6:,.2f} ({DDR_MB_S:g} MB/s at that rate)")
    nums = ", ".join(nums)
    heavy = f" (the largest layers, {heavy})" if heavy else ""
    return f"{what} does not fit the {board.name} ({board.part}): {nums}{heavy}; {fix}"


def _bigger(qm, board, clock, used, room, cost, base, reserve) -> str:
    """The fix when nothing fits: boards of another part with more of every resource that ran
    out, on which the mapper does find a design (never a board with the same part)."""
    over = used > room + 1e-9
    short = [r for r, o in zip(("LUT", "FF", "DSP48E1", "BRAM36"), over) if o]
    fits = []
    for b in boards.larger(board.part, board.capacity, short):
        try:
            map_model(qm, b, clock, cost=cost, base=base, reserve=reserve)
            fits.append(b.name)
        except AccelError:
            pass
    if fits:
        return f"choose a larger board: --board {' or --board '.join(fits)}"
    return ("no supported board has room for it: use a smaller model (fewer channels, lower "
            "resolution or fewer bits)")


def load(qm, spec=None, board: str = "zybo", scale=None) -> tuple[dict, dict]:
    """Folds for every conv and max-pool of qm from a fold.yaml path, a dict of the same layout, or None, by
    the board-aware mapper (accel.rtl.mapper): the fastest design that fits `board`, or with
    target_fps the cheapest meeting it; layers given in the spec are held to their fields.
    Checked by accel.core.config.FoldSpec. Returns (folds, settings incl. the mapping)."""
    from accel.core import config

    spec, source = folding.read(spec)
    s = config.fold_spec(spec, source)
    b = boards.get(board)
    clock_mhz = float(b.clock_mhz if s.clock_mhz is None else s.clock_mhz)
    by_name = {l.name: l for l in qm.layers if l.kind in folding.FOLDED}
    fixed = {}
    for name, f in s.layers.items():
        if name not in by_name:
            raise AccelError(f"{source}: no convolution or max-pool named '{name}' in the model "
                             f"(folded layers: {', '.join(by_name)})")
        fixed[name] = folding.matching(by_name[name], f.model_dump(exclude_none=True))
    m = map_model(qm, b, clock_mhz, s.target_fps, fixed, scale=scale)
    return m.folds, {"target_fps": s.target_fps, "clock_mhz": clock_mhz, "mapping": m.to_json()}
