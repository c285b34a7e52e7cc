"""`accel build`: the board flow as cached stages in OUT/<board>/ (accel.flow.stages, one module
per stage), run in order with a progress line each; build.json and report.md at the end.

Each stage's folder is keyed by a sha256 of its inputs and its code (accel.core.cache) and swapped
in atomically with its stamp (stamps.py); a run that is interrupted resumes at the first stage
without a complete folder. A stage that needs a vendor tool that is not installed is prepared (its
folder holds everything the tool needs), marked pending, and the run ends with the commands to run
elsewhere and exit code 3. Running those commands in the pending folders and then `accel build`
again picks up their outputs.

The hardware options (fold spec, target_fps, clock_mhz, HLS config: accel.flow.options) are part
of the keys of the stages they shape (rtl or hls, and every stage after it), never of the golden
vectors. `start` (--from) resumes at a stage: the stages before it are not run and must already
be done for these inputs, else the build stops (exit 2) naming the first that is not.
"""

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from accel.core import atomic, boards, process, progress
from accel.core.errors import AccelError
from accel.core.modelfile import DEFAULT_MODEL, load_model
from accel.flow import options, report, stamps
from accel.flow.context import Context, VerificationFailed, fit_check
from accel.flow.stages import golden as golden_stage
from accel.flow.stages import hls as hls_stage
from accel.flow.stages import model as model_stage
from accel.flow.stages import overlay as overlay_stage
from accel.flow.stages import rtl as rtl_stage
from accel.flow.stages import vitis as vitis_stage
from accel.flow.stages import vivado as vivado_stage

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT, EXIT_NEEDS_TOOLS = 0, 1, 2, 3
STAGES = {"hls": ("model", "golden", "hls", "vitis", "vivado", "overlay"),
          "rtl": ("model", "golden", "rtl", "vivado", "overlay")}
RUN = {"model": model_stage.run, "golden": golden_stage.run, "hls": hls_stage.run,
       "rtl": rtl_stage.run, "vitis": vitis_stage.run, "vivado": vivado_stage.run,
       "overlay": overlay_stage.run}
# the key of a stage without running it (--from checks the stages before it)
KEY = {"model": model_stage.key, "golden": golden_stage.key, "hls": hls_stage.key,
       "rtl": rtl_stage.key, "vitis": vitis_stage.key, "vivado": vivado_stage.key}


@dataclass
class Result:
    code: int
    folder: Path
    stages: dict = field(default_factory=dict)
    commands: list = field(default_factory=list)


class Build:
    def __init__(self, board: str, model=None, backend: str = "hls", out="build", images: int = 32,
                 accuracy_images: int = 1000, log=print, dataset: str | None = None, fold=None,
                 target_fps: float | None = None, clock_mhz: float | None = None,
                 hls_config=None):
        board = boards.get(board)
        if backend not in STAGES:
            raise AccelError(f"unknown backend '{backend}': choose from {', '.join(STAGES)}")
        if images < 1 or accuracy_images < 0:
            raise AccelError("--images must be >= 1 and --accuracy-images >= 0")
        model_path = Path(model) if model else DEFAULT_MODEL
        qm = load_model(model_path)
        # both backends' options are checked, whichever is built (one build.yaml serves both)
        options.check_numbers(target_fps, clock_mhz)
        fold_spec = options.fold_spec(fold, target_fps)
        hls_user, hls_source = options.hls_user(hls_config)
        hls_stage.config(board, hls_user, hls_source)  # raises when the merged config is bad
        board = dataclasses.replace(
            board, clock_mhz=options.clock(clock_mhz, board, backend, fold_spec, hls_user))
        fold_spec["clock_mhz"] = board.clock_mhz
        self.out = Path(out)
        self.stages = STAGES[backend]
        self.log = log
        given = {"fold": fold, "target_fps": target_fps, "hls_config": hls_config}
        unused = [k for k, v in given.items()
                  if v is not None and (k == "hls_config") != (backend == "hls")]
        self.unused = f"{' and '.join(unused)} not used by the {backend} backend" if unused else ""
        self.again = _again(board.name, model, backend, out, images, accuracy_images, dataset,
                            fold, target_fps, clock_mhz, hls_config)
        self.ctx = Context(board=board, backend=backend, model_path=model_path, qm=qm,
                           summary=model_stage.summary(qm), root=self.out / board.name,
                           name="accel_" + board.name.replace("-", "_"), images=images,
                           accuracy_images=accuracy_images, dataset=dataset,
                           fold=fold_spec if backend == "rtl" else {},
                           hls_config=(hls_stage.config(board, hls_user, hls_source)
                                       if backend == "hls" else None))

    # -----------------------------------------------------------------------------------------
    # checks before anything is written

    def early_fit(self) -> dict:
        """Resources the model needs at least, before any stage runs: its weights in block RAM
        and, for the HLS backend, the conv multipliers of its plan."""
        ctx = self.ctx
        rows = fit_check(ctx.board, {"BRAM36": ctx.weight_bram36()}, "weight memory estimate")
        if ctx.backend == "hls":
            rows.update(hls_stage.early_fit(ctx))
        return rows

    def check_output(self) -> None:
        """The output folder, created and marked as `accel build`'s output (the CLI checked that
        it may be written: accel.core.atomic.check); when it cannot be, nothing is left behind."""
        made = []
        p = self.ctx.root
        while not p.exists():
            made.append(p)
            p = p.parent
        if not p.is_dir():
            raise AccelError(f"--out {self.out}: {p} is not a folder; choose another --out")
        try:
            for d in reversed(made):
                d.mkdir()
            atomic.mark(self.ctx.root, "build")  # also the write probe
        except OSError as exc:
            for d in made:
                if d.exists():
                    shutil.rmtree(d, ignore_errors=True)
            raise AccelError(f"--out {self.out} is not writable ({exc.strerror}); choose another "
                             "--out") from None

    # -----------------------------------------------------------------------------------------

    def progress(self, i: int, stage: str, status: str, seconds: float | None, note: str = ""):
        t = f" {seconds:5.1f} s" if seconds is not None else "        "
        self.log(f"accel build: [{i}/{len(self.stages)}] {stage:8} {status:11}{t}"
                 + (f"  {note}" if note else ""))

    def resume(self, start: str) -> dict:
        """--from START: the stamps of the stages before it, each of which must hold the output
        of its key for these inputs (it is not run); else AccelError naming the first that does
        not. Reads only: called before anything is written."""
        ctx, kept = self.ctx, {}
        for stage in self.stages[:self.stages.index(start)]:
            want = KEY[stage](ctx)
            hit = ctx.cached(stage, want)
            if hit is None:
                old = stamps.stamp(ctx.root / stage)
                why = ("has not run" if old is None else
                       "is out of date (its inputs changed)" if old.get("key") != want else
                       f"is {old.get('status')}")
                raise AccelError(f"--from {start}: the {stage} stage {why} in {ctx.root}; run "
                                 f"the build up to it first (--until {stage}) or drop --from")
            kept[stage] = hit
        return kept

    def run(self, until: str | None = None, start: str | None = None) -> Result:
        ctx = self.ctx
        for flag, stage in (("--until", until), ("--from", start)):
            if stage is not None and stage not in self.stages:
                raise AccelError(f"{flag} {stage}: choose a stage of the {ctx.backend} flow: "
                                 f"{', '.join(self.stages)}")
        last = self.stages.index(until) if until else len(self.stages) - 1
        if start is not None and self.stages.index(start) > last:
            raise AccelError(f"--from {start} comes after --until {until}: choose --from a stage "
                             f"up to {until}")
        fit = self.early_fit()
        kept = self.resume(start) if start else {}
        self.check_output()
        atomic.sweep(ctx.root)
        self.log(f"accel build: {ctx.model_path} -> {ctx.root} ({ctx.board.description}, "
                 f"{ctx.board.part}, {ctx.board.clock_mhz:g} MHz, {ctx.backend} backend)"
                 + (f"; {self.unused}" if self.unused else ""))
        code = EXIT_OK
        ctx.info["fit_early"] = fit
        try:
            for i, stage in enumerate(self.stages[:last + 1], 1):
                t0 = time.time()
                # a spinner with the elapsed time on stderr while it runs; its line follows
                with progress.task(f"accel build: [{i}/{len(self.stages)}] {stage}"):
                    info = kept[stage] if stage in kept else RUN[stage](ctx)
                ctx.info[stage] = info
                status = info["status"]
                cached = info.pop("_cached", False)
                self.progress(i, stage, "cached" if cached and status == "done" else status,
                              None if cached else time.time() - t0, info.get("note", ""))
                if status == "pending":
                    code = EXIT_NEEDS_TOOLS
        except VerificationFailed as exc:
            self.log(f"accel build: FAIL: {exc}")
            code = EXIT_MISMATCH
        except AccelError:
            self.finish(EXIT_BAD_INPUT)  # completed stages stay valid; the failed one left nothing
            raise
        self.finish(code)
        if ctx.commands:
            self.log("accel build: vendor tools missing here. Everything that can run has run; on "
                     "a machine with the tools (copy the folder), run in order:")
            for c in ctx.commands:
                self.log(f"  {c}")
            self.log(f"  then again: {self.again}   (packages the overlay)")
        return Result(code, ctx.root, ctx.info, list(ctx.commands))

    def finish(self, code: int) -> None:
        """build.json (the state of every stage) and report.md; the report never loses the
        build's status."""
        ctx = self.ctx
        state = {"board": ctx.board.name, "backend": ctx.backend, "model": str(ctx.model_path),
                 "clock_mhz": ctx.board.clock_mhz, "fold_spec": ctx.fold or None,
                 "hls_multiplier_budget": (ctx.hls_config["boards"][ctx.board.name]["multipliers"]
                                           if ctx.hls_config else None),
                 "stages": {s: ctx.info.get(s, {"status": "not run"}) for s in self.stages},
                 "fit_early": ctx.info.get("fit_early"), "exit_code": code,
                 "commands": ctx.commands}
        tmp = ctx.root / ".build.json.tmp"
        tmp.write_text(json.dumps(state, indent=1, default=str) + "\n")
        os.replace(tmp, ctx.root / "build.json")
        try:
            report.write(ctx.root, state, ctx.summary, ctx.board)
            self.log(f"accel build: report {ctx.root / 'report.md'}")
        except Exception as exc:  # the report must never lose the build's status
            self.log(f"accel build: report not written ({type(exc).__name__}: {exc})")


def _again(board, model, backend, out, images, accuracy_images, dataset, fold, target_fps,
           clock_mhz, hls_config) -> str:
    """The `accel build` command that makes the same stages again (same keys): every option that
    is not the default; an inline fold or HLS mapping has no flag, so the line says so."""
    words = ["accel", "build", "--board", board]
    if model is not None and Path(model).resolve() != DEFAULT_MODEL.resolve():
        words += ["--model", str(model)]
    words += ["--backend", backend, "--out", str(out)]
    for flag, value, default in (("--images", images, 32),
                                 ("--accuracy-images", accuracy_images, 1000),
                                 ("--dataset", dataset, None), ("--target-fps", target_fps, None),
                                 ("--clock-mhz", clock_mhz, None)):
        if value != default:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    words += options.cli_words(fold, hls_config)
    inline = [k for k, v in (("fold", fold), ("hls_config", hls_config)) if isinstance(v, dict)]
    return " ".join(process.sh(w) for w in words) + (
        f" (with the same inline {' and '.join(inline)})" if inline else "")


def build(board: str, model=None, backend: str = "hls", until: str | None = None, out="build",
          images: int = 32, accuracy_images: int = 1000, log=print, dataset: str | None = None,
          fold=None, target_fps: float | None = None, clock_mhz: float | None = None,
          hls_config=None, start: str | None = None) -> Result:
    return Build(board, model, backend, out, images, accuracy_images, log, dataset, fold,
                 target_fps, clock_mhz, hls_config).run(until, start)
