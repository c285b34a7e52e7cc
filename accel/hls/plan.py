"""The HLS configuration (hls.yaml merged with the user's) and the plan: per model-file layer its
hls4ml name, strategy and ReuseFactor (the board's multiplier budget spread over the convs).
"""

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from accel.core.errors import AccelError
from accel.core.ir import Layer, QuantModel

DEFAULTS = Path(__file__).parent / "hls.yaml"


# ---------------------------------------------------------------------------------------------
# configuration

def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(
            base.get(key), dict) else value
    return out


def load_config(path=None, source: str = "HLS config") -> dict:
    """hls.yaml defaults, overridden key by key by the user's file (or a mapping of the same
    layout, named `source` in errors), checked as a whole by accel.core.config.HlsConfig (types,
    ranges, names; one-line AccelError naming the file)."""
    import yaml

    from accel.core import config

    cfg = yaml.safe_load(DEFAULTS.read_text())
    if path is None:
        source = f"HLS defaults {DEFAULTS}"
    elif isinstance(path, dict):
        cfg = _merge(cfg, path)
    else:
        source = f"--config {path}"
        user = config.read_yaml(path, "--config", "pass a YAML file like accel/hls/hls.yaml")
        cfg = _merge(cfg, user) if isinstance(user, dict) else user  # else: refused below
    config.hls_config(cfg, source)
    return cfg


def boards(cfg: dict | None = None) -> dict:
    return (cfg or load_config())["boards"]


# ---------------------------------------------------------------------------------------------
# the plan: one entry per model-file layer

@dataclass
class Planned:
    layer: Layer
    hls: str  # hls4ml layer name (a C identifier)
    strategy: str = ""
    reuse_factor: int = 0
    precision: dict = field(default_factory=dict)

    # hls4ml's dense view of a conv: n_in x n_out products per output pixel
    @property
    def mult_in(self) -> int:
        return self.layer.fan_in

    @property
    def mult_out(self) -> int:
        return int(self.layer.shape[0])


def _ident(name: str, taken: set) -> str:
    base = re.sub(r"\W", "_", name)
    base = base if base[0].isalpha() else "l_" + base
    out, n = base, 1
    while out in taken:
        n += 1
        out = f"{base}_{n}"
    taken.add(out)
    return out


@functools.lru_cache(maxsize=None)
def valid_reuse_factors(n_in: int, n_out: int) -> tuple[int, ...]:
    """The ReuseFactors hls4ml accepts for an n_in x n_out product (its own validator)."""
    from hls4ml.backends import get_backend

    backend = get_backend("Vitis")
    return tuple(rf for rf in range(1, n_in * n_out + 1)
                 if backend._validate_reuse_factor(n_in, n_out, rf))


def _layer_cfg(cfg: dict, name: str) -> dict:
    out = dict(cfg["defaults"])
    out.update((cfg.get("layers") or {}).get(name) or {})
    return out


def plan(qm: QuantModel, cfg: dict, board: str) -> list[Planned]:
    if board not in cfg["boards"]:
        raise AccelError(f"unknown board '{board}': choose from {', '.join(cfg['boards'])}")
    names = {l.name for l in qm.layers}
    for name in cfg.get("layers") or {}:
        if name not in names:
            raise AccelError(f"--config: layer '{name}' is not in the model (see `accel info`)")
    taken = {"accel_input"}
    out = [Planned(layer, _ident(layer.name, taken)) for layer in qm.layers]
    _choose_reuse(out, cfg, board)
    return out


def _choose_reuse(planned: list[Planned], cfg: dict, board: str) -> None:
    """ReuseFactor per conv (see hls.yaml): explicit values are kept (rounded to a valid one);
    'auto' spreads the board's multipliers so every conv takes about the same cycles per image."""
    budget = int(cfg["boards"][board]["multipliers"])
    convs = [p for p in planned if p.layer.kind == "conv"]
    auto = []
    for p in convs:
        lc = _layer_cfg(cfg, p.layer.name)
        strategy = str(lc.get("strategy", "Resource"))
        if strategy.lower() not in ("resource", "latency"):
            raise AccelError(f"layer {p.layer.name}: strategy '{strategy}' is not Resource or Latency")
        p.strategy = "Resource" if strategy.lower() == "resource" else "Latency"
        rf = lc.get("reuse_factor", "auto")
        if rf == "auto":
            auto.append(p)
        elif isinstance(rf, int) and not isinstance(rf, bool) and rf >= 1:
            p.reuse_factor = _round_rf(p, rf)
        else:
            raise AccelError(f"layer {p.layer.name}: reuse_factor must be an integer >= 1 or auto")
    if not auto:
        return
    fixed = sum(p.mult_in * p.mult_out / p.reuse_factor for p in convs if p not in auto)
    left = max(budget - fixed, len(auto))
    # cycles per image of a conv ~ output pixels x ReuseFactor; equal cycles T for all layers with
    # sum(mults) = sum(n_in * n_out / RF) = left  =>  T = sum(MACs) / left.
    target = sum(p.layer.macs for p in auto) / left
    for p in auto:
        p.reuse_factor = _round_rf(p, max(1, math.ceil(target / p.layer.out_pixels)))


def _round_rf(p: Planned, want: int) -> int:
    """Smallest valid ReuseFactor >= want (the largest valid one if none is)."""
    valid = valid_reuse_factors(p.mult_in, p.mult_out)
    return next((rf for rf in valid if rf >= want), valid[-1])
