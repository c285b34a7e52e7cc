"""The options of one `accel build` that shape its hardware, resolved once before any stage runs
(a bad one stops the build before anything is written): the build's one clock, the fold spec the
rtl stage hands to accel.rtl, and the user's HLS config the hls stage merges over hls.yaml.

The clock is one number for the whole build (the fold's arithmetic, the HLS clock_period_ns,
Vivado's fabric clock, the overlay metadata and the report): clock_mhz if given, else the active
backend's own file's clock (the fold's clock_mhz, the HLS config's clock_period_ns), else the
board's.
"""

from pathlib import Path

from accel.core import config
from accel.rtl import fold as folding

HLS_HINT = "pass a YAML file like accel/hls/hls.yaml"


def _read(value, what: str, inline: str, hint: str) -> tuple[object, str]:
    """(the mapping, its name in errors) of a path (a `what`) or an inline mapping."""
    if value is None or isinstance(value, dict):
        return value, f"{inline} (inline)"
    return config.read_yaml(value, what, hint), f"{what} {value}"


def check_numbers(target_fps, clock_mhz) -> None:
    """The build's numbers by the build.yaml rules (the CLI and build.yaml checked them already;
    this is for the Python API)."""
    given = {k: v for k, v in (("target_fps", target_fps), ("clock_mhz", clock_mhz))
             if v is not None}
    config.validate(config.BuildConfig, given, "build options")


def fold_spec(fold, target_fps: float | None = None) -> dict:
    """The fold spec {target_fps, clock_mhz, layers} of a fold.yaml path or mapping (None: the
    automatic folding), checked by accel.core.config.FoldSpec, keys left out staying out (the
    folding's defaults), with target_fps over the fold's own."""
    data, source = folding.read(fold)
    spec = config.fold_spec(data, source).model_dump(exclude_none=True)
    if target_fps is not None:
        spec["target_fps"] = float(target_fps)
    return spec


def hls_user(hls_config) -> tuple[dict | None, str]:
    """The user's HLS config (a path or a mapping over accel/hls/hls.yaml) and its name in errors;
    its layout is checked when merged (accel.hls.generate.load_config)."""
    data, source = _read(hls_config, "HLS config", "HLS config", HLS_HINT)
    if data is not None and not isinstance(data, dict):
        config.hls_config(data, source)  # raises: must be a mapping with the keys ...
    return data, source


def clock(clock_mhz, board, backend: str, fold: dict, hls: dict | None) -> float:
    """The build's one clock in MHz (see the module docstring)."""
    if clock_mhz is not None:
        return float(clock_mhz)
    if backend == "rtl" and fold.get("clock_mhz") is not None:
        return float(fold["clock_mhz"])
    if backend == "hls" and hls and hls.get("clock_period_ns") is not None:
        return 1000.0 / float(hls["clock_period_ns"])
    return float(board.clock_mhz)


def cli_words(fold, hls_config) -> list[str]:
    """The command-line words that give the same fold and HLS config again (a path; an inline
    mapping has none: the caller says so)."""
    words = []
    for flag, value in (("--fold", fold), ("--hls-config", hls_config)):
        if value is not None and not isinstance(value, dict):
            words += [flag, str(Path(value))]
    return words
