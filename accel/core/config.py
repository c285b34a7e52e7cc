"""The one schema layer for what users write: fold.yaml, hls.yaml, board YAML files and the command
line's numbers, checked by pydantic v2 models in strict mode.

Rules, everywhere:
- strict types: an integer is an integer (not 2.5, "4", true, a list or null); a number is an int
  or a float, finite (YAML's .nan/.inf refused), inside the range its field states;
- unknown keys are refused (a typo must not be ignored); a key may be left out, but not set to
  null (except a board's board_part: null, no Vivado board file);
- names that reach file names, shell/TCL lines or C++ identifiers follow identifier rules
  (project_name: a C identifier; board names; Xilinx part names; PS7 CONFIG values);
- YAML is read with yaml.safe_load only; an empty file is an empty mapping.

Every failure is one AccelError line naming the file, the key, the value and what is allowed:

    fold file f.yaml: layers.conv1.pe must be an integer from 1 to 4096, not [4, 2]
"""

import argparse
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter,
                      ValidationError, field_validator)
from pydantic.fields import FieldInfo

from accel.core.errors import AccelError


def _int(lo: int, hi: int) -> type:
    return Annotated[int, Field(ge=lo, le=hi, description=f"an integer from {lo} to {hi}")]


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v == int(v) else f"{v:g}"


def _number(lo: float, hi: float, unit: str = "", above: bool = False) -> type:
    bound = {"gt": lo} if above else {"ge": lo}
    span = f"> {_fmt(lo)} and <= {_fmt(hi)}" if above else f"from {_fmt(lo)} to {_fmt(hi)}"
    return Annotated[float, Field(**bound, le=hi, allow_inf_nan=False,
                                  description=f"a finite number {span}{unit}")]


def _name(pattern: str, what: str) -> type:
    return Annotated[str, Field(pattern=pattern, description=what)]


# Xilinx part names as Vivado spells them: xc7z010clg400-1, xczu3eg-sbva484-1-e, xc7a35ticsg324-1L.
PART = _name(r"^xc[0-9a-z]{4,}(-[0-9A-Za-z]{1,4}){1,3}$",
             "a Xilinx part name such as xc7z010clg400-1")
BOARD_PART = _name(r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+){3}$",
                   "a Vivado board part vendor:board:part0:version, or null")
# Board names become folder names (build/BOARD) and TCL words: no separators, no dots.
BOARD_NAME = _name(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
                   "a board name of letters, digits, '-' and '_'")
C_IDENT = _name(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
                "a C identifier (letters, digits, '_'; not starting with a digit)")
# One clock range for boards, folds and HLS: 10-250 MHz is what a Zynq-7000 fabric design runs at.
CLOCK_MHZ = _number(10, 250, " (MHz)")
CLOCK_NS = _number(4, 100, " (ns, i.e. 10 to 250 MHz)")
FPS = _number(1, 1e7, " (images/s)")
RESOURCE = _int(1, 10_000_000)
FOLD = _int(1, 4096)
TILE = _int(1, 1 << 20)  # output pixels (the layer's own bound: accel.rtl.fold.check)
REUSE = Annotated[Union[_int(1, 1 << 20), Literal["auto"]],
                  Field(description=f"an integer from 1 to {1 << 20} or 'auto'")]
STRATEGY = _name(r"(?i)^(resource|latency)$", "Resource or Latency")
# PS7 presets land in TCL: CONFIG.* names and values of plain words only.
PS7_KEY = _name(r"^PCW_[A-Z0-9_]+$", "a PS7 CONFIG name such as PCW_UART1_PERIPHERAL_ENABLE")
PS7_VALUE = Annotated[Union[_name(r"^[A-Za-z0-9 ._-]*$", ""), int, _number(-1e9, 1e9)],
                      Field(description="a number or text of letters, digits, spaces, '.', '-', '_'")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# --- fold.yaml (accel/rtl/fold.py) -------------------------------------------------------------

class FoldLayer(_Strict):
    pe: FOLD = None  # left out: the mapper chooses
    simd: FOLD = None
    mul: Literal["dsp", "pack", "lut"] | None = None  # accel.rtl.fold.MUL_STYLES
    tile: TILE = None  # weights in DDR, TILE output pixels per tile (accel.rtl.fold.Fold.tile)
    line: bool | None = None  # a max-pool on a line buffer, not accel_pool (accel.rtl.fold.Fold)


class FoldSpec(_Strict):
    target_fps: FPS = None  # left out: the fastest design that fits the board
    clock_mhz: CLOCK_MHZ = None
    layers: Annotated[dict[str, FoldLayer], Field(
        description="a mapping of conv layer names to {pe: P, simd: S, mul: dsp|pack|lut, "
                    "tile: T} and of max-pool names to {pe: P, line: true|false}")] = {}


# --- hls.yaml (accel/hls/hls.yaml, after the user's file is merged over it) ----------------------

class HlsLayer(_Strict):
    strategy: STRATEGY = None
    reuse_factor: REUSE = None


class HlsDefaults(_Strict):
    strategy: STRATEGY
    reuse_factor: REUSE


class HlsBoard(_Strict):
    part: PART
    multipliers: RESOURCE
    dsp48: RESOURCE
    bram36: RESOURCE


class HlsConfig(_Strict):
    clock_period_ns: CLOCK_NS
    project_name: C_IDENT
    tb_images: _int(1, 100_000)
    fifo_depth: Annotated[Literal["reconvergent", "whole_tensor"],
                          Field(description="reconvergent or whole_tensor")]
    defaults: Annotated[HlsDefaults, Field(description="a mapping {strategy, reuse_factor}")]
    boards: Annotated[dict[BOARD_NAME, HlsBoard], Field(
        description="a mapping of board names to {part, multipliers, dsp48, bram36}")]
    layers: Annotated[dict[str, HlsLayer], Field(
        description="a mapping of layer names to {strategy, reuse_factor}")]


# --- board YAML (accel/core/boards/*.yaml, $ACCEL_BOARDS) ---------------------------------------

class Capacity(_Strict):
    LUT: RESOURCE
    FF: RESOURCE
    BRAM36: RESOURCE
    DSP48E1: RESOURCE


class BoardFile(_Strict):
    name: BOARD_NAME = None  # left out: the file's stem
    description: Annotated[str, Field(description="text")] = ""
    part: PART
    board_part: Union[BOARD_PART, None] = None
    clock_mhz: CLOCK_MHZ
    ddr_mb: _int(64, 1 << 20) = 512
    capacity: Annotated[Capacity, Field(description="a mapping {LUT, FF, BRAM36, DSP48E1}")]
    ps7: Annotated[dict[PS7_KEY, PS7_VALUE], Field(
        description="a mapping of PS7 CONFIG names to values")] = {}


# --- build.yaml (`accel build --config`): one key per `accel build` flag ----------------------

BUILD_STAGES = ("model", "golden", "hls", "rtl", "vitis", "vivado", "overlay")
STAGE = Annotated[Literal[BUILD_STAGES], Field(description="a stage: " + ", ".join(BUILD_STAGES))]


def _path_or(mapping: type, description: str) -> type:
    """A file path (text) or the file's content inline as a mapping: tagged by the value's type,
    so an error names the mapping's own key (fold.layers.conv1.pe), not both branches."""
    return Annotated[Union[Annotated[str, Tag("path")], Annotated[mapping, Tag("mapping")]],
                     Discriminator(lambda v: "path" if isinstance(v, str) else "mapping"),
                     Field(description=description)]


class BuildConfig(_Strict):
    board: BOARD_NAME = None  # left out: --board must be given
    model: Annotated[str, Field(description="a model file path (text)")] = None  # embedded model
    backend: Annotated[Literal["hls", "rtl"], Field(description="hls or rtl")] = "hls"
    start: STAGE = None  # left out: from the first stage (--from)
    until: STAGE = None  # left out: the whole flow
    out: Annotated[str, Field(description="a folder path (text)")] = "build"
    force: Annotated[bool, Field(description="true or false")] = False
    images: _int(1, 100_000) = 32
    accuracy_images: _int(0, 10_000_000) = 1000
    dataset: Annotated[str, Field(description="mnist, fashion-mnist or folder:PATH")] = None
    # rtl backend: the fold spec handed to accel.rtl (target_fps and clock_mhz go inside it)
    fold: _path_or(FoldSpec, "a fold.yaml path or a mapping {target_fps, clock_mhz, layers}") = None
    target_fps: FPS = None  # left out: the fold's, else accel.rtl's default
    clock_mhz: CLOCK_MHZ = None  # left out: the board's; the one clock of the whole build
    # hls backend: merged over accel/hls/hls.yaml and checked as HlsConfig when the build starts
    hls_config: _path_or(dict[str, Any], "an hls.yaml path or a mapping of its keys") = None

    @field_validator("fold")
    @classmethod
    def _fold_as_written(cls, v):  # an inline fold as a plain mapping, the keys given only
        return v.model_dump(exclude_unset=True) if isinstance(v, FoldSpec) else v


# --- reading and reporting -----------------------------------------------------------------------

def read_yaml(path, what: str, hint: str) -> object:
    """yaml.safe_load of a file; a missing, unreadable, binary or malformed file is one line naming
    `what` (e.g. "fold file") and the path; `hint` says what to pass instead. Empty file: {}."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise AccelError(f"{what} {path} {'is not a file' if path.exists() else 'not found'}: {hint}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AccelError(f"{what} {path} is not a text file: {hint}") from None
    except OSError as exc:
        raise AccelError(f"{what} {path} is unreadable ({exc.strerror}): {hint}") from None
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise AccelError(f"{what} {path} is nested too deeply: {hint}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or type(exc).__name__
        raise AccelError(f"{what} {path} is not valid YAML ({problem}{where}): {hint}") from None
    return {} if data is None else data


def _show(value) -> str:
    """A value as the user wrote it in YAML (null, true), shortened to one line."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unwrap(tp):
    """(the type inside Annotated/Optional, the description found on the way)."""
    desc = None
    while True:
        if get_origin(tp) is Annotated:
            tp, *meta = get_args(tp)
            desc = desc or next((m.description for m in meta if isinstance(m, FieldInfo)
                                 and m.description), None)
        elif get_origin(tp) is Union and type(None) in get_args(tp) and len(get_args(tp)) == 2:
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp, desc


def _tagged(union, tag):
    """The branch of a tagged union (Annotated[..., Tag(tag)]), else None."""
    for arg in get_args(union):
        if get_origin(arg) is Annotated and any(isinstance(m, Tag) and m.tag == tag
                                                for m in get_args(arg)[1:]):
            return arg
    return None


def _locate(schema: type, loc: tuple) -> tuple[list[str], str | None, type]:
    """Follow a pydantic error location through the schema: (the key path as the user wrote it,
    the innermost field's description, the type there). Union branch tags after a leaf are dropped."""
    tp, keys, desc = schema, [], None
    for part in loc:
        tp, found = _unwrap(tp)
        desc = found or desc
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            keys.append(str(part))
            field = tp.model_fields.get(part)
            if field is None:
                return keys, None, None
            desc, tp = field.description, field.annotation
        elif get_origin(tp) is dict:
            keys.append(str(part))
            tp, desc = get_args(tp)[1], None
        elif get_origin(tp) is Union and (branch := _tagged(tp, part)) is not None:
            tp = branch  # a tagged union (_path_or): the tag names the branch, not a key
        else:
            break
    tp, found = _unwrap(tp)
    if desc is None and found is None and isinstance(tp, type) and issubclass(tp, BaseModel):
        found = f"a mapping with the keys {', '.join(tp.model_fields)}"
    return keys, found or desc, tp


def _message(source: str, schema: type, err: dict) -> str:
    loc, value = err["loc"], _show(err["input"])
    if loc and loc[-1] == "[key]":  # a mapping key of the wrong form
        keys, _, container = _locate(schema, loc[:-2])
        where = ".".join(keys)
        rule = _unwrap(get_args(container)[0])[1] if get_origin(container) is dict else None
        return (f"{source}: {where or 'the file'} has the key {_show(loc[-2])}: keys must be "
                f"{rule or 'strings'}")
    keys, desc, _ = _locate(schema, loc)
    key = ".".join(keys)
    if err["type"] == "invalid_key":
        return f"{source}: the key {value} must be a string"
    if err["type"] == "extra_forbidden":
        parent = _locate(schema, loc[:-1])[2]
        names = ", ".join(parent.model_fields) if isinstance(parent, type) and issubclass(
            parent, BaseModel) else ""
        return f"{source}: unknown key '{key}'" + (f"; keys are {names}" if names else "")
    if err["type"] == "missing":
        return f"{source}: missing key '{key}'" + (f" ({desc})" if desc else "")
    if not keys:
        return f"{source}: must be a mapping with the keys {', '.join(schema.model_fields)}"
    if desc is None:
        return f"{source}: {key} = {value}: {err['msg']}"
    return f"{source}: {key} must be {desc}, not {value}"


def validate(schema: type, data, source: str):
    """data checked against a schema model; the first failure becomes one AccelError line."""
    try:
        return schema.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise AccelError(_message(source, schema, exc.errors()[0])) from None


def fold_spec(data, source: str = "fold spec") -> FoldSpec:
    return validate(FoldSpec, data, source)


def hls_config(data, source: str) -> HlsConfig:
    return validate(HlsConfig, data, source)


def board_file(data, source: str) -> BoardFile:
    return validate(BoardFile, data, source)


def build_config(path) -> BuildConfig:
    """A build.yaml; relative paths (model, out, fold, hls_config, dataset folder:PATH) are taken
    from the file's folder."""
    path = Path(path)
    data = read_yaml(path, "build config", "pass a YAML file with the keys "
                     + ", ".join(BuildConfig.model_fields))
    spec = validate(BuildConfig, data, f"build config {path}")

    def rel(v: str) -> str:
        return v if Path(v).is_absolute() else str(path.parent / v)

    update = {k: rel(v) for k in ("model", "out", "fold", "hls_config")
              if isinstance(v := getattr(spec, k), str)}
    if spec.dataset and spec.dataset.startswith("folder:"):
        update["dataset"] = "folder:" + rel(spec.dataset[len("folder:"):])
    return spec.model_copy(update=update)


# --- command-line numbers (argparse `type=`) -----------------------------------------------------

def cli(tp: type):
    """argparse type from a schema type (e.g. cli(FPS) for --target-fps): the same rules as in
    the files, applied to the argument's text ('2.5', '1e3' are no integers; 'nan', 'inf' no
    finite numbers)."""
    adapter = TypeAdapter(tp)  # lax: parses the text, then the same range rules
    desc = _unwrap(tp)[1]

    def parse(text: str):
        try:
            return adapter.validate_python(text)
        except ValidationError:
            raise argparse.ArgumentTypeError(f"must be {desc}, not {_show(text)}") from None
    return parse


def cli_int(lo: int, hi: int):
    """argparse type: an integer from lo to hi."""
    return cli(_int(lo, hi))


def cli_number(lo: float, hi: float, above: bool = False, unit: str = ""):
    """argparse type: a finite number from lo (above: greater than lo) to hi."""
    return cli(_number(lo, hi, unit, above))
