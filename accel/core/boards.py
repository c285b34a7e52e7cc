"""Boards: one small YAML file per board in accel/boards/ (part, Vivado board part, PS7 preset
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


def _fail(path: Path, what: str):
    raise AccelError(f"board file {path}: {what}")


def load(path) -> Board:
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        _fail(path, f"unreadable ({type(exc).__name__})")
    if not isinstance(data, dict):
        _fail(path, "must be a mapping")
    for key in ("part", "clock_mhz", "capacity"):
        if key not in data:
            _fail(path, f"missing key '{key}'")
    cap = data["capacity"]
    if not isinstance(cap, dict) or any(not isinstance(cap.get(r), int) or cap[r] <= 0
                                        for r in RESOURCES):
        _fail(path, f"capacity needs positive integers for {', '.join(RESOURCES)}")
    clock = data["clock_mhz"]
    if not isinstance(clock, (int, float)) or not 10 <= clock <= 250:
        _fail(path, "clock_mhz must be a number from 10 to 250")
    ps7 = data.get("ps7") or {}
    if not isinstance(ps7, dict):
        _fail(path, "ps7 must be a mapping of PS7 CONFIG names to values")
    return Board(name=str(data.get("name", path.stem)), description=str(data.get("description", "")),
                 part=str(data["part"]), board_part=data.get("board_part") or None,
                 clock_mhz=float(clock), ddr_mb=int(data.get("ddr_mb", 512)),
                 capacity={r: int(cap[r]) for r in RESOURCES},
                 ps7={str(k): str(v) for k, v in ps7.items()}, path=path)


def get(name: str) -> Board:
    path = _path(name) if isinstance(name, str) and name and "/" not in name else None
    if path is None:
        raise AccelError(f"unknown board '{name}': choose from {', '.join(names())}")
    return load(path)


def all_boards() -> list[Board]:
    return [get(n) for n in names()]
