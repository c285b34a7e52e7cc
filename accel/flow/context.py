"""What the stages of one `accel build` share: the Context (the board, the model, the build
folder, the keys and stamps of the stages so far, the vendor-tool commands still to run) and the
steps every stage takes the same way: its cache lookup, the fit check against the board, reading
the golden vectors, and the protocol of a stage that needs a vendor tool."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from accel.core import atomic, boards
from accel.core.errors import AccelError
from accel.flow import stamps

BRAM36_BITS = 36 * 1024


class VerificationFailed(Exception):
    """A level differs from the golden model: the build ends with exit code 1."""


@dataclass
class Context:
    board: object  # accel.core.boards.Board, its clock_mhz the build's (accel.flow.options)
    backend: str  # hls | rtl
    model_path: Path
    qm: object  # the model file's QuantModel
    summary: dict  # the model stage's info.json
    root: Path  # OUT/BOARD
    name: str  # the overlay's base name: accel_<board>
    images: int  # golden vectors
    accuracy_images: int
    dataset: str | None  # the golden vectors' dataset (None: the one the model file names)
    fold: dict = field(default_factory=dict)  # rtl: the fold spec for accel.rtl (options.py)
    hls_config: dict | None = None  # hls: hls.yaml with the user's config merged, the clock set
    keys: dict = field(default_factory=dict)  # stage -> key of its folder
    info: dict = field(default_factory=dict)  # stage -> stamp
    commands: list = field(default_factory=list)  # vendor-tool commands to run elsewhere

    def cached(self, stage: str, key: str) -> dict | None:
        """The stage's stamp when its folder holds the finished output of `key`, else None."""
        self.keys[stage] = key
        s = stamps.lookup(self.root / stage, key)
        if s and s.get("status") == "done":
            s["_cached"] = True
            return s
        return None

    def golden_vectors(self):
        """The golden stage's images, expected output codes and every layer's codes."""
        g = self.root / "golden"
        x, y = np.load(g / "images.npy"), np.load(g / "expected.npy")
        with np.load(g / "layers.npz") as z:
            trace = {k: z[k] for k in z.files}
        return x, y, trace

    def weight_bram36(self) -> int:
        """Block RAMs the weights need (hls4ml keeps every weight on chip)."""
        return -(-self.summary["weight_memory_bits"] // BRAM36_BITS)

    def tool_stage(self, stage: str, key: str, prepare, tool_here: bool, upstream_ready: bool,
                   run, finished, command: str) -> dict:
        """A stage run by a vendor tool: its folder is prepared (atomically) and pending until
        the tool's outputs are there; the tool runs here when it is installed and its inputs are
        ready, else `command` is what to run where it is."""
        folder = self.root / stage
        hit = self.cached(stage, key)
        if hit:
            return hit
        s = stamps.lookup(folder, key)
        if s is None:
            tmp = atomic.make_temp(folder)
            try:
                prepare(tmp)
                s = {"stage": stage, "key": key, "status": "pending", "command": command}
                stamps.commit(tmp, folder, s)
            finally:
                atomic.discard(tmp)
        done = finished(folder)
        if done is None and tool_here and upstream_ready:
            run(folder)
            done = finished(folder)
            if done is None:
                raise AccelError(f"{stage}: the tool ran but its outputs are missing in {folder}")
        if done is not None:
            s.update(done, status="done")
            stamps.update_stamp(folder, s)
            return s
        s = dict(s, status="pending",
                 note=("the tool is not installed here" if not tool_here
                       else "waiting for the previous stage's tool output"))
        self.commands.append(command)
        return s


def fit_check(board, need: dict, what: str) -> dict:
    """need {resource: amount} against the board's capacity; AccelError naming the first that
    does not fit. Returns {resource: {"need", "capacity", "percent"}}."""
    rows = {}
    for res, amount in need.items():
        cap = board.capacity[res]
        rows[res] = {"need": amount, "capacity": cap, "percent": round(100.0 * amount / cap, 1)}
    short = [res for res, row in rows.items() if row["need"] > row["capacity"]]
    if short:
        res = short[0]
        # only boards of another part that hold every need (a board with the same part has the
        # same fabric: never a fix)
        fits = [b.name for b in boards.larger(board.part, board.capacity, short)
                if all(need[r] <= b.capacity[r] for r in need)]
        fix = (f"choose a board with more {', '.join(short)} (accel build --board {fits[0]})"
               if fits else "no board of another part has room for it: use a smaller / narrower "
               "model")
        raise AccelError(f"the model does not fit {board.name} ({board.part}) by the {what}: "
                         f"{res} {rows[res]['need']} > {rows[res]['capacity']}; {fix}")
    return rows
