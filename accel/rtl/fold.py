"""Folding of the RTL datapath: how many multipliers each convolution gets.

A convolution (accel_mvau) computes one output pixel as a matrix-vector product of its N = K*K*Cin
inputs with Cout weight rows, folded onto PE x SIMD multipliers (PE output channels and SIMD inputs
per cycle): SF = N/SIMD input folds times NF = Cout/PE output folds = SF*NF cycles per pixel. The
layers run as a dataflow pipeline, so the images/s are set by the slowest layer; `auto_fold` gives
each layer the fewest multipliers that keep it under the target cycles per image (FINN's
target_fps), and `load` reads a fold.yaml:

    target_fps: 6000          # images/s at clock_mhz the automatic folding aims for
    clock_mhz: 100
    layers:                   # optional explicit folds by layer name (accel info)
      conv1: {pe: 4, simd: 9}
"""

from dataclasses import dataclass
from pathlib import Path

import yaml

from accel.core.errors import AccelError

DEFAULT_TARGET_FPS = 6000
DEFAULT_CLOCK_MHZ = 100.0


@dataclass(frozen=True)
class Fold:
    pe: int
    simd: int

    @property
    def multipliers(self) -> int:
        return self.pe * self.simd


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def conv_dims(layer) -> tuple[int, int, int, int]:
    """(output pixels, input beats per vector, vector length N, output channels) of a conv."""
    cout, cin, kh, kw = layer.weight.shape
    _, oh, ow = layer.shape
    beats = 1 if (kh, kw) == (1, 1) and tuple(layer.stride) == (1, 1) and not any(layer.pads) \
        else kh * kw
    return oh * ow, beats, cin * kh * kw, cout


def vector_cycles(beats: int, n: int, cout: int, fold: Fold) -> int:
    """Cycles per output pixel in steady state. 1x1 layers (one beat, one buffer): the folds plus
    the cycle that takes the next vector. Windowed layers (double buffered): the folds, or the
    beats plus the cycle that moves the full buffer to the compute buffer, whichever is longer."""
    folds = (n // fold.simd) * (cout // fold.pe)
    return folds + 1 if beats == 1 else max(folds, beats + 1)


def layer_cycles(layer, fold: Fold) -> int:
    pixels, beats, n, cout = conv_dims(layer)
    return pixels * vector_cycles(beats, n, cout, fold)


def check(layer, fold: Fold) -> Fold:
    _, _, n, cout = conv_dims(layer)
    if fold.pe < 1 or cout % fold.pe:
        raise AccelError(f"fold of {layer.name}: pe={fold.pe} must divide its {cout} output "
                         f"channels (one of {divisors(cout)})")
    if fold.simd < 1 or n % fold.simd:
        raise AccelError(f"fold of {layer.name}: simd={fold.simd} must divide its {n} inputs "
                         f"(K*K*Cin; one of {divisors(n)})")
    return fold


def fastest(layer) -> Fold:
    _, _, n, cout = conv_dims(layer)
    return Fold(cout, n)


def cheapest_meeting(layer, target_cycles: int) -> Fold:
    """The fold with the fewest multipliers whose cycles per image are <= target_cycles (the
    fastest fold if none is); ties go to fewer cycles, then to wider SIMD."""
    _, _, n, cout = conv_dims(layer)
    options = [Fold(pe, simd) for pe in divisors(cout) for simd in divisors(n)]
    ok = [f for f in options if layer_cycles(layer, f) <= target_cycles]
    if not ok:
        return fastest(layer)
    return min(ok, key=lambda f: (f.multipliers, layer_cycles(layer, f), -f.simd))


def auto_fold(qm, target_fps: float = DEFAULT_TARGET_FPS,
              clock_mhz: float = DEFAULT_CLOCK_MHZ) -> dict[str, Fold]:
    target = int(clock_mhz * 1e6 / target_fps)
    return {l.name: cheapest_meeting(l, target) for l in qm.layers if l.kind == "conv"}


def load(qm, spec=None) -> tuple[dict[str, Fold], dict]:
    """Folds for every conv of qm from a fold.yaml path, a dict of the same layout, or None (the
    automatic folding at the default target). Returns (folds, settings)."""
    if spec is None:
        spec = {}
    elif not isinstance(spec, dict):
        path = Path(spec)
        if not path.is_file():
            raise AccelError(f"fold file {path} not found: pass a YAML file (see accel/rtl/fold.py)")
        try:
            spec = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise AccelError(f"fold file {path} is not valid YAML ({str(e).splitlines()[0]})")
        if not isinstance(spec, dict):
            raise AccelError(f"fold file {path} must be a mapping with target_fps / layers")
    unknown = set(spec) - {"target_fps", "clock_mhz", "layers"}
    if unknown:
        raise AccelError(f"fold spec: unknown keys {sorted(unknown)} (use target_fps, clock_mhz, "
                         f"layers)")
    try:
        target_fps = float(spec.get("target_fps", DEFAULT_TARGET_FPS))
        clock_mhz = float(spec.get("clock_mhz", DEFAULT_CLOCK_MHZ))
    except (TypeError, ValueError):
        raise AccelError("fold spec: target_fps and clock_mhz must be numbers")
    if target_fps <= 0 or clock_mhz <= 0:
        raise AccelError("fold spec: target_fps and clock_mhz must be > 0")
    folds = auto_fold(qm, target_fps, clock_mhz)
    layers = spec.get("layers") or {}
    if not isinstance(layers, dict):
        raise AccelError("fold spec: layers must map layer names to {pe: P, simd: S}")
    by_name = {l.name: l for l in qm.layers}
    for name, f in layers.items():
        if name not in folds:
            raise AccelError(f"fold spec: no convolution named '{name}' in the model (convs: "
                             f"{', '.join(folds)})")
        if not isinstance(f, dict) or set(f) - {"pe", "simd"}:
            raise AccelError(f"fold spec: layer {name} needs {{pe: P, simd: S}}")
        old = folds[name]
        folds[name] = check(by_name[name], Fold(int(f.get("pe", old.pe)),
                                                int(f.get("simd", old.simd))))
    return folds, {"target_fps": target_fps, "clock_mhz": clock_mhz}
