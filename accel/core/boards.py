"""Boards: one small YAML file per board in accel/core/boards/ (part, Vivado board part, PS7 preset
values, capacities, DDR size, default clock). Add a board by adding a file there, or in a folder
named by the environment variable ACCEL_BOARDS (searched first); `names()` lists them.

    names()            ['pynq-z2', 'zybo', 'zybo-z7-10', 'zybo-z7-20']
    get('zybo')        Board(name, part, board_part (None: explicit PS7 preset), clock_mhz,
                             capacity {LUT, FF, BRAM36, DSP48E1}, ddr_mb, ps7 {CONFIG.* values})
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from accel.core.errors import AccelError

DIR = Path(__file__).parent / "boards"
RESOURCES = ("LUT", "FF", "BRAM36", "DSP48E1")
# Share of a board a generated design may take; the rest is for what Vivado adds around it (PS7,
# AXI DMA, interconnect: ~2-3k LUT, a few BRAM36). Both backends check their estimates against it.
RESERVE = {"LUT": 0.80, "FF": 0.80, "BRAM36": 0.90, "DSP48E1": 1.00}


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    part: str
    board_part: str | None
    clock_mhz: float
    capacity: dict
    ddr_mb: int = 512
    ps7: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def clock_ns(self) -> float:
        return 1000.0 / self.clock_mhz


def _dirs() -> list[Path]:
    extra = os.environ.get("ACCEL_BOARDS")
    return ([Path(extra)] if extra else []) + [DIR]


def _path(name: str) -> Path | None:
    for d in _dirs():
        if (d / f"{name}.yaml").is_file():
            return d / f"{name}.yaml"
    return None


def names() -> list[str]:
    return sorted({p.stem for d in _dirs() for p in d.glob("*.yaml")})


def load(path) -> Board:
    """A board file, checked by accel.core.config.BoardFile (one-line AccelError otherwise)."""
    from accel.core import config

    path = Path(path)
    data = config.read_yaml(path, "board file", "fix it or remove it (see accel/core/boards/)")
    spec = config.board_file(data, f"board file {path}")
    return Board(name=spec.name or path.stem, description=spec.description, part=spec.part,
                 board_part=spec.board_part, clock_mhz=float(spec.clock_mhz), ddr_mb=spec.ddr_mb,
                 capacity={r: getattr(spec.capacity, r) for r in RESOURCES},
                 ps7={k: str(v) for k, v in spec.ps7.items()}, path=path)


def get(name: str) -> Board:
    path = _path(name) if isinstance(name, str) and name and "/" not in name else None
    if path is None:
        raise AccelError(f"unknown board '{name}': choose from {', '.join(names())}")
    return load(path)


def all_boards() -> list[Board]:
    return [get(n) for n in names()]


def larger(part: str, capacity: dict, short) -> list[Board]:
    """The boards worth proposing when a design does not fit a board of `part` with `capacity`:
    another part (a board with the same part has the same fabric, so the same room) with more of
    every resource in `short` (names as in RESOURCES). The caller checks its design fits each."""
    return [b for b in all_boards()
            if b.part != part and all(b.capacity[r] > capacity[r] for r in short)]
