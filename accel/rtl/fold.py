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


def beats(layer) -> int:
    """Input beats per vector of a conv: 1 for a plain 1x1 conv (pixels feed accel_mvau directly),
    else K*K window positions from an accel_swu."""
    kh, kw = layer.weight.shape[2:]
    plain = (kh, kw) == (1, 1) and tuple(layer.stride) == (1, 1) and not any(layer.pads)
    return 1 if plain else kh * kw


def vector_cycles(layer, fold: Fold) -> int:
    """Cycles per output pixel in steady state. 1x1 layers (one beat, one buffer): the folds plus
    the cycle that takes the next vector. Windowed layers (double buffered): the folds, or the
    beats plus the cycle that moves the full buffer to the compute buffer, whichever is longer."""
    folds = (layer.fan_in // fold.simd) * (layer.shape[0] // fold.pe)
    b = beats(layer)
    return folds + 1 if b == 1 else max(folds, b + 1)


def layer_cycles(layer, fold: Fold) -> int:
    return layer.out_pixels * vector_cycles(layer, fold)


def check(layer, fold: Fold) -> Fold:
    n, cout = layer.fan_in, layer.shape[0]
    if fold.pe < 1 or cout % fold.pe:
        raise AccelError(f"fold of {layer.name}: pe={fold.pe} must divide its {cout} output "
                         f"channels (one of {divisors(cout)})")
    if fold.simd < 1 or n % fold.simd:
        raise AccelError(f"fold of {layer.name}: simd={fold.simd} must divide its {n} inputs "
                         f"(K*K*Cin; one of {divisors(n)})")
    return fold


def fastest(layer) -> Fold:
    return Fold(layer.shape[0], layer.fan_in)


def cheapest_meeting(layer, target_cycles: int) -> Fold:
    """The fold with the fewest multipliers whose cycles per image are <= target_cycles (the
    fastest fold if none is); ties go to fewer cycles, then to wider SIMD."""
    options = [Fold(pe, simd) for pe in divisors(layer.shape[0]) for simd in divisors(layer.fan_in)]
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
    automatic folding at the default target), checked by accel.core.config.FoldSpec. Returns
    (folds, settings)."""
    from accel.core import config

    source = "fold spec"
    if spec is not None and not isinstance(spec, dict):
        source = f"fold file {spec}"
        spec = config.read_yaml(spec, "fold file", "pass a YAML file (see accel/rtl/fold.py)")
    s = config.fold_spec(spec, source)
    target_fps = float(DEFAULT_TARGET_FPS if s.target_fps is None else s.target_fps)
    clock_mhz = float(DEFAULT_CLOCK_MHZ if s.clock_mhz is None else s.clock_mhz)
    folds = auto_fold(qm, target_fps, clock_mhz)
    by_name = {l.name: l for l in qm.layers}
    for name, f in s.layers.items():
        if name not in folds:
            raise AccelError(f"{source}: no convolution named '{name}' in the model (convs: "
                             f"{', '.join(folds)})")
        old = folds[name]
        folds[name] = check(by_name[name], Fold(old.pe if f.pe is None else f.pe,
                                                old.simd if f.simd is None else f.simd))
    return folds, {"target_fps": target_fps, "clock_mhz": clock_mhz}
