"""The yosys check of a mapped design (`accel rtl --yosys-fit`): the resource model answers in
seconds but is an estimate (accel.rtl.resources: a few % off on the mapper's designs, more on
packed many-row convolutions); yosys synth_xilinx is the exact count. This stage synthesizes the
mapper's design and, while yosys counts more LUT, FF or BRAM36 than the board's reserve allows,
maps again with the budget shrunk by what yosys counted over what the model said on that design
(the mapper's `scale`), at most ROUNDS times. DSP48E1 the model counts exactly.

    write_checked(qm, out_dir, fold, board, force) -> manifest   out_dir/yosys_fit.json: the rounds
"""

from pathlib import Path

from accel.core import boards
from accel.core.errors import AccelError

ROUNDS = 3
# The model estimates LUT and FF; DSP48E1 and BRAM36 it counts exactly block by block, but the
# mapper plans a few fold-dependent buffers outside its per-layer costs (a branch FIFO deepened
# for a DDR layer's bursts: SqueezeNet v1.1 int8 came out at 133.5 RAMB36 against 126 planned),
# so yosys checks those too.
CHECKED = ("LUT", "FF", "BRAM36")
RECORD = "yosys_fit.json"


def limits(board) -> dict:
    """What the accelerator may take by yosys: the board's capacity times the reserve."""
    b = boards.get(board)
    return {k: b.capacity[k] * boards.RESERVE[k] for k in CHECKED}


def write_checked(qm, out_dir, fold=None, board: str = "zybo", force: bool = False,
                  log=print) -> dict:
    from accel.rtl.estimate import estimate, write_json
    from accel.rtl.generate import write

    limit = limits(board)
    scale = {"LUT": 1.0, "FF": 1.0, "DSP": 1.0, "BRAM36": 1.0}
    rounds = []
    for r in range(ROUNDS):
        try:
            man = write(qm, out_dir, fold, board, force, [scale[k] for k in scale])
        except AccelError as e:
            if not rounds:
                raise  # the model's own refusal, with its numbers and fix
            raise AccelError(
                f"yosys counts {_over(rounds[-1], limit)} on the {board} for the mapper's "
                f"design, and with the model scaled to that (" + ", ".join(
                    f"{k} x{scale[k]:.2f}" for k in CHECKED) + f") no design fits: {e}") from None
        model = man["fold"]["mapping"]["used"]
        e = estimate(out_dir, board)
        rec = {"round": r + 1, "scale": dict(scale),
               "images_per_s": man["fold"]["mapping"]["images_per_s"],
               "model": {k: round(model[k]) for k in CHECKED},
               "yosys": {k: e[k] for k in CHECKED}, "limit": {k: round(v) for k, v in limit.items()}}
        rounds.append(rec)
        over = [k for k in CHECKED if e[k] > limit[k]]
        log(f"yosys check {r + 1}: " + ", ".join(
            f"{k} {e[k]:,g} of {limit[k]:,.0f} (model {model[k]:,.0f})" for k in CHECKED)
            + (f" -> over in {', '.join(over)}: mapping again" if over else " -> fits"))
        write_json(Path(out_dir) / RECORD, {"board": board, "rounds": rounds, "fits": not over})
        if not over:
            return man
        for k in CHECKED:  # the next design is planned as if the model counted like yosys
            scale[k] *= max(e[k] / max(model[k], 1.0), 1.0)
    raise AccelError(
        f"after {ROUNDS} mappings yosys still counts {_over(rounds[-1], limit)} on the {board}: "
        f"ask for a slower design (--target-fps {int(rounds[-1]['images_per_s'] * 0.8)}) or a "
        f"larger board")


def _over(rec: dict, limit: dict) -> str:
    return ", ".join(f"{k} {rec['yosys'][k]:,g} of {limit[k]:,.0f}" for k in CHECKED
                     if rec["yosys"][k] > limit[k])
