"""The Python API: one model object over the stages, the same calls the `accel` commands make.

    import accel
    m = accel.load()                      # the embedded tiny-mnist model (or a model file path)
    m.predict(images)                     # class indices by the golden integer model
    m.verify(levels=("golden", "qonnx", "c"), images=16).passed
    m.rtl("out/rtl", target_fps=1000); m.sim(images=2).images_per_s
    m.build(board="zybo", until="hls").code

Images are uint8 NCHW arrays in the model's input shape, or image files (read with the model's
preprocessing: its size and channels). Results are dataclasses: figures as attributes, to_json().
Errors are accel.core.errors.AccelError with the same one line the commands print.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from accel.core.errors import AccelError
from accel.core.modelfile import DEFAULT_MODEL


class _Result:
    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if not f.name.startswith("_")}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_jsonable)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


@dataclass
class EvalResult(_Result):
    model: str
    dataset: str
    split: str
    images: int
    accuracy: float
    level: str
    seconds: float


@dataclass
class VerifyResult(_Result):
    model: str
    dataset: str
    images: int
    mismatches: int  # over every level, outputs and layers
    levels: list  # accel.verify.LevelResult per level, golden first

    @property
    def passed(self) -> bool:
        return self.mismatches == 0

    def to_dict(self) -> dict:
        return {"model": self.model, "dataset": self.dataset, "images": self.images,
                "mismatches": self.mismatches,
                "levels": [{"level": r.level, "images": r.images,
                            "output_mismatches": r.output_mismatches,
                            "seconds": round(r.seconds, 2),
                            "layers": {k: {"elements": n, "mismatches": m}
                                       for k, (n, m) in r.layers.items()}}
                           for r in self.levels]}


@dataclass
class HlsResult(_Result):
    out: Path
    board: str
    tb_images: int  # golden vectors in tb_data/
    report: str  # report.txt: the plan per layer
    meta: dict  # accel_hls.json


@dataclass
class RtlResult(_Result):
    out: Path
    board: str
    multipliers: int
    slowest_layer_cycles: int
    images_per_s: float  # the fold's estimate; sim() measures
    clock_mhz: float
    mac_utilization: float
    layers: list  # per layer: name, kind, pe, simd, multipliers, cycles
    manifest: dict  # accel_rtl.json


@dataclass
class SimResult(_Result):
    model: str
    rtl: str
    simulator: str
    dataset: str | None
    images: int
    mismatched_images: int  # images whose outputs differ from the golden model's
    accuracy: float | None  # None without labels (arrays)
    latency_cycles: int
    ii_cycles: float | None  # None for one image
    images_per_s: float | None
    clock_mhz: float
    multipliers: int
    mac_utilization: float | None
    layers: list
    waves: str | None
    outputs: np.ndarray = field(repr=False)  # final codes (N, classes), the model's order
    summary: dict = field(repr=False)  # everything the simulation reported (`accel sim --json`)

    @property
    def passed(self) -> bool:
        return self.mismatched_images == 0

    def to_dict(self) -> dict:
        return self.summary


@dataclass
class EstimateResult(_Result):
    board: str
    rtl: str
    multipliers: int  # from the fold
    images_per_s: float  # the fold's estimate at the board clock
    LUT: float | None = None  # yosys synth_xilinx figures (None unless yosys=True)
    FF: float | None = None
    DSP: float | None = None
    BRAM36: float | None = None
    capacity: dict | None = None
    fits: bool | None = None
    part: str | None = None
    layers: list = field(default_factory=list)
    timing: dict | None = None  # the timing proxy: LUT levels, CARRY4 chain, est. fmax (yosys)
    details: dict = field(default_factory=dict, repr=False)  # the yosys result (`--json`)

    def to_dict(self) -> dict:
        return self.details or super().to_dict()


@dataclass
class BuildResult(_Result):
    code: int  # the `accel build` exit code: 0 done, 1 mismatches, 3 vendor tools missing
    folder: Path
    stages: dict
    commands: list  # what to run where the vendor tools are

    @property
    def ok(self) -> bool:
        return self.code == 0


def rtl_model(rtl) -> Path | None:
    """The model file an RTL project was generated from (its accel_rtl.json), if it still
    exists."""
    try:
        path = Path(json.loads((Path(rtl) / "accel_rtl.json").read_text())["model"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return path if path.is_file() else None


def _same_file(a: Path, b: Path) -> bool:
    import hashlib

    if a.resolve() == b.resolve():
        return True
    return hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


class Model:
    """A quantized model file (QONNX) and everything accel does with it."""

    def __init__(self, qm):
        self.qm = qm  # accel.core.ir's QuantModel

    # --- making one ----------------------------------------------------------------------------

    @classmethod
    def load(cls, path=None) -> "Model":
        """A model file; None: the embedded tiny-mnist model."""
        from accel.core.modelfile import load_model

        return cls(load_model(Path(path) if path else DEFAULT_MODEL))

    @staticmethod
    def train(out, *, resume: bool = False, progress: bool = True, force: bool = False,
              log=print, **options) -> dict:
        """Quantization-aware training into the run folder `out` (accel train); options are
        accel.training.fit.TrainConfig's fields (model, dataset, wbits, abits, epochs, ...).
        Returns the run's metrics; export(out, ...) makes the model file."""
        from accel.training.fit import TrainConfig, train

        names = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise AccelError(f"unknown training option(s) {', '.join(unknown)}: use "
                             f"{', '.join(sorted(names))}")
        return train(TrainConfig(**options), out, resume=resume, progress=progress, log=log,
                     force=force)

    @classmethod
    def export(cls, run, out, force: bool = False) -> "Model":
        """A run folder -> a model file at `out` (+ the .pt checkpoint beside it), loaded."""
        from accel.training.export import export_run

        return cls.load(export_run(run, out, force=force))

    # --- facts ---------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self.qm.path

    @property
    def input_shape(self) -> tuple:
        return tuple(self.qm.input_shape)

    @property
    def class_names(self) -> list:
        return list(self.qm.class_names)

    def __repr__(self) -> str:
        return (f"accel.Model({str(self.path)!r}: input {self.input_shape}, "
                f"{len(self.qm.layers)} layers, {self.qm.num_classes} classes)")

    # --- images --------------------------------------------------------------------------------

    def images(self, n: int | None = None, dataset: str | None = None, split: str = "test"):
        """The first n images of a split of the model's dataset: accel.data.Images (x, y)."""
        from accel import data

        return data.images_for(self.qm, n, dataset, split)

    def _pixels(self, images) -> np.ndarray:
        """uint8 (N, C, H, W) from an array (one CHW image or a batch) or image file(s)."""
        from accel import data

        if isinstance(images, (str, Path)):
            images = [images]
        if not isinstance(images, np.ndarray):
            c, h, w = self.qm.input_shape
            return data.load_images(images, (h, w), c)
        x = images[None] if images.ndim == 3 else images
        if x.dtype != np.uint8 or x.shape[1:] != tuple(self.qm.input_shape):
            raise AccelError(f"images must be uint8 (N, {', '.join(map(str, self.qm.input_shape))})"
                             f" arrays, not {x.dtype} {x.shape}")
        return x

    def _images(self, images, dataset=None, split="test"):
        """(x, y or None, dataset name or None) from a count (None: all) or pixels."""
        if isinstance(images, (bool, np.bool_)):
            raise AccelError(f"images must be a count, uint8 arrays or image files, not {images}")
        if images is not None and not isinstance(images, (int, np.integer)):
            return self._pixels(images), None, None
        got = self.images(images, dataset, split)
        return got.x, got.y, got.dataset

    # --- the golden model ----------------------------------------------------------------------

    def scores(self, images) -> np.ndarray:
        """The golden model's output codes (N, classes), int64."""
        from accel import golden

        return golden.run(self.qm, self._pixels(images))

    def predict(self, images) -> np.ndarray:
        """Class indices (N,) by the golden integer model (class_names[i] names them)."""
        from accel import golden

        return golden.predict(self.qm, self._pixels(images))

    def evaluate(self, images: int | None = None, dataset: str | None = None,
                 split: str = "test") -> EvalResult:
        """Golden accuracy on the first `images` (None: all) of a split (accel eval)."""
        import time

        got = self.images(images, dataset, split)
        t0 = time.time()
        acc = float((self.predict(got.x) == got.y).mean())
        return EvalResult(str(self.path), got.dataset, split, len(got.y), acc, "golden",
                          round(time.time() - t0, 2))

    # --- the levels ----------------------------------------------------------------------------

    def verify(self, levels=("golden", "qonnx", "c"), images=16, dataset: str | None = None,
               split: str = "test", checkpoint=None) -> VerifyResult:
        """Every level against the golden model, layer by layer (accel verify). images: a count
        of the model's test images, or uint8 arrays / image files."""
        from accel.verify import check_levels, torch_model_for, verify

        levels = list(levels.split(",") if isinstance(levels, str) else levels)
        levels = [lv.strip() for lv in levels if lv.strip()]
        check_levels(levels)
        torch_model = torch_model_for(self.qm, checkpoint) if "torch" in levels else None
        x, _, name = self._images(images, dataset, split)
        results = verify(self.qm, x, levels, torch_model)
        return VerifyResult(str(self.path), name or "arrays", len(x),
                            sum(r.mismatches for r in results), results)

    def c(self, out, arm: bool = False, force: bool = False) -> Path:
        """Plain C99 inference in `out`, built (accel c); arm: also a static Cortex-A9 binary."""
        from accel.cbackend import write

        return Path(write(self.qm, out, arm=arm, force=force))

    def hls(self, out, board: str = "zybo", config=None, tb_images: int | None = None,
            force: bool = False) -> HlsResult:
        """The hls4ml Vitis HLS project in `out` with golden test vectors (accel hls). config: a
        YAML file or mapping over accel/hls/hls.yaml."""
        from accel import data, golden
        from accel.hls import generate

        cfg = generate.load_config(config)
        n_tb = cfg["tb_images"] if tb_images is None else tb_images
        if n_tb < 1:
            raise AccelError(f"--tb-images {n_tb}: the testbench needs at least 1 image")
        tb = data.images_for(self.qm, n_tb, random_fallback=True)
        meta = generate.write(self.qm, out, board=board, config=cfg,
                              testbench=(tb.x, golden.run(self.qm, tb.x), tb.source), force=force)
        out = Path(out)
        return HlsResult(out, board, meta["tb"]["images"], (out / "report.txt").read_text(), meta)

    def rtl(self, out, board: str = "zybo", target_fps: float | None = None, fold=None,
            force: bool = False, yosys_fit: bool = False, log=print) -> RtlResult:
        """Our Verilog accelerator in `out` (accel rtl), mapped onto `board` (accel.rtl.mapper):
        the fastest design that fits, or the cheapest reaching target_fps; fold: a fold.yaml
        path or mapping (target_fps, clock_mhz, layers held by hand; target_fps wins over it).
        yosys_fit: synthesize it and map again until yosys agrees it fits (accel.rtl.fit)."""
        from accel.rtl import fit
        from accel.rtl import fold as folding
        from accel.rtl.generate import write as generate

        fold = folding.merge(fold, target_fps)
        m = (fit.write_checked(self.qm, out, fold, board, force, log) if yosys_fit
             else generate(self.qm, out, fold=fold, board=board, force=force))
        self._rtl_dir = Path(out)  # sim() and estimate() use it
        return _rtl_result(Path(out), board, m)

    def _rtl_for(self, rtl, fold, board, target_fps=None) -> Path:
        """An RTL project: `rtl` if given, the last rtl() output, else generated into the cache."""
        from accel.rtl import fold as folding
        from accel.rtl import project_for

        fold = folding.merge(fold, target_fps)
        if rtl is None and fold is None:
            rtl = getattr(self, "_rtl_dir", None)
        if rtl is not None:
            path = Path(rtl)
            if not (path / "accel_rtl.json").is_file():
                raise AccelError(f"{path} is not an RTL project (no accel_rtl.json): write one "
                                 f"with `accel rtl --out {path}`")
            made_from = rtl_model(path)
            if made_from is not None and not _same_file(made_from, Path(self.path)):
                # else every image "differs": the reference would be another model's
                raise AccelError(f"{path} was generated from {made_from}, not {self.path}: "
                                 f"load that model (accel sim --rtl {path} --model {made_from})")
            return path
        return project_for(self.qm, fold=fold, board=board)

    def sim(self, images=8, simulator: str = "verilator", rtl=None, fold=None,
            board: str = "zybo", driver: str = "hdl", valid_gaps: float = 0.0,
            backpressure: float = 0.0, seed: int = 0, waves: bool = False,
            target_fps: float | None = None) -> SimResult:
        """Images through the simulated RTL (cocotb; accel sim): mismatches against the golden
        model, latency, II, images/s. rtl: a project folder (default: the last rtl() output,
        else generated into the cache for `fold`)."""
        from accel.core import stream
        from accel.rtl.sim import load_manifest, simulate
        from accel.verify import against_golden

        x, y, name = self._images(images)
        rtl = self._rtl_for(rtl, fold, board, target_fps)
        res = simulate(rtl, x, simulator=simulator, valid_gaps=valid_gaps,
                       backpressure=backpressure, seed=seed, waves=waves, driver=driver)
        out = stream.outputs_nchw(res["outputs"], load_manifest(rtl)["io"]["output"])
        bad = against_golden("rtl", self.qm, x, out).mismatched_images
        acc = float((out.argmax(axis=1) == y).mean()) if y is not None else None
        summary = {k: v for k, v in res.items() if k != "outputs"}
        summary.update(model=str(self.path), rtl=str(rtl), simulator=simulator, dataset=name,
                       mismatched_images=bad, accuracy=acc)
        return SimResult(str(self.path), str(rtl), simulator, name, len(x), bad, acc,
                         res["latency_cycles"], res["ii_cycles"], res["images_per_s"],
                         res["clock_mhz"], res["multipliers"], res["mac_utilization"],
                         res["layers"], res["waves"], out, summary)

    def estimate(self, board: str = "zybo", yosys: bool = False, rtl=None,
                 fold=None, target_fps: float | None = None) -> EstimateResult:
        """Resources: the fold's multipliers and rate; yosys=True also synthesizes with yosys
        synth_xilinx (minutes; cached) for LUT/FF/DSP/BRAM36 against the board (accel estimate)."""
        from accel.rtl.sim import load_manifest

        rtl = self._rtl_for(rtl, fold, board, target_fps)
        fold_est = load_manifest(rtl)["estimate"]
        result = EstimateResult(board, str(rtl), fold_est["multipliers"], fold_est["images_per_s"])
        if yosys:
            from accel.rtl.estimate import estimate

            e = estimate(rtl, board)
            result = dataclasses.replace(
                result, LUT=e["LUT"], FF=e["FF"], DSP=e["DSP"], BRAM36=e["BRAM36"],
                capacity=e["capacity"], fits=e["fits"], part=e["part"], layers=e["layers"],
                timing=e["timing"], details=e)
        return result

    # --- the board flow ------------------------------------------------------------------------

    def build(self, board: str, backend: str = "hls", out="build", until: str | None = None,
              images: int = 32, accuracy_images: int = 1000, force: bool = False,
              log=print, dataset: str | None = None, fold=None, target_fps: float | None = None,
              clock_mhz: float | None = None, hls_config=None,
              start: str | None = None) -> BuildResult:
        """The board flow into OUT/BOARD (accel build): cached stages from `start` (the stages
        before it must be done already) up to `until` (model, golden, hls|rtl, vitis, vivado,
        overlay). fold: a fold.yaml path or mapping {target_fps, clock_mhz, layers} (rtl backend;
        target_fps over its own); hls_config: an hls.yaml path or mapping merged over
        accel/hls/hls.yaml (hls backend); clock_mhz: the build's one clock (default: the fold's
        or HLS config's, else the board's). code 3: a vendor tool is missing here (the commands
        to run elsewhere are in .commands)."""
        from accel.core import atomic, boards
        from accel.flow.build import build

        atomic.refuse_protected(out)  # e.g. out=".": the build folder is OUT/BOARD
        atomic.check(Path(out) / boards.get(board).name, "build", force)
        default = self.path.resolve() == DEFAULT_MODEL.resolve()  # keeps the flow's hints short
        r = build(board, model=None if default else self.path, backend=backend, until=until,
                  out=out, images=images, accuracy_images=accuracy_images, log=log,
                  dataset=dataset, fold=fold, target_fps=target_fps, clock_mhz=clock_mhz,
                  hls_config=hls_config, start=start)
        return BuildResult(r.code, r.folder, r.stages, r.commands)


def _rtl_result(out: Path, board: str, m: dict) -> RtlResult:
    e = m["estimate"]
    return RtlResult(out, board, e["multipliers"], e["slowest_layer_cycles"], e["images_per_s"],
                     m["fold"]["clock_mhz"], e["mac_utilization"], m["layers"], m)


def load(path=None) -> Model:
    """accel.load("model.onnx"): Model.load; None: the embedded tiny-mnist model."""
    return Model.load(path)
