"""`accel compress`: model file -> pruned, shared, Huffman-coded model, still an ordinary model file.

    model.onnx + model.pt (the Brevitas checkpoint beside it)
      -> prune (gradual magnitude pruning with retraining)          accel.compress.prune
      -> share (k-means codebook of integer codes, fine-tuned)      accel.compress.share
      -> export (accel.training.export: QONNX model file + .pt sidecar)
      -> encode the model file's codes (Huffman, sparse)            accel.compress.codec
      -> decode and compare with the model file's codes (must be equal)
      -> report (sizes per layer and stage, accuracy, plot)         accel.compress.report

The output directory is built in a temporary directory beside it and renamed into place. A result
whose golden accuracy fell more than `max_drop` percentage points below the input model's is not
put there: it is kept aside in `<out>.rejected` (`rejected_path`) and `AccuracyDropped` is raised
(`accel compress` exits 1), so a failed fine-tuning never passes for a usable model.
"""

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from accel.core import atomic, progress
from accel.compress import codec, prune, report, share, tune
from accel.compress.codec import BITSTREAM, model_layers
from accel.core.errors import AccelError

REJECTED = ".rejected"  # <out>.rejected: where a result that lost too much accuracy is kept


class AccuracyDropped(Exception):
    """The compressed model lost more accuracy than allowed; it was kept aside at `path`. Not
    an AccelError: the input was fine, the result is not (exit 1, like a verification failure)."""

    def __init__(self, message: str, path, report: dict):
        super().__init__(message)
        self.path, self.report = path, report


@dataclass
class CompressConfig:
    sparsity: float = 0.6  # fraction of conv weights pruned
    share_bits: int = 4  # 2^B shared weights per layer
    scope: str = "global"  # global | layer
    layer_sparsity: dict = field(default_factory=dict)  # per-layer overrides
    min_density: float = 0.05  # global scope: never keep less of a layer than this
    stages: int = 4  # gradual pruning steps
    prune_steps: int = 200  # retraining steps after each pruning step
    share_steps: int = 300  # centroid fine-tuning steps
    lr: float = 3e-4  # peak AdamW learning rate for weights and biases (value units)
    share_lr: float = 0.05  # peak AdamW learning rate for centroids (code units)
    batch_size: int = 128
    gap_bits: int = 4  # relative-index alphabet 2^gap_bits (top symbol = filler)
    train_images: int | None = None  # fine-tune on the first N training images (None: all)
    eval_images: int | None = None  # accuracy on the first N test images (None: all)
    seed: int = 0
    threads: int = 1
    max_drop: float = 1.0  # refuse a result more than this many accuracy points below the input

    def check(self) -> "CompressConfig":
        prune.check_sparsity(self.sparsity)
        share.check_bits(self.share_bits)
        if self.scope not in prune.SCOPES:
            raise AccelError(f"--scope {self.scope}: choose global or layer")
        for name, value in (("--stages", self.stages), ("--batch-size", self.batch_size)):
            if value < 1:
                raise AccelError(f"{name} {value}: must be >= 1")
        for name, value in (("--prune-steps", self.prune_steps), ("--share-steps", self.share_steps)):
            if value < 0:
                raise AccelError(f"{name} {value}: must be >= 0")
        if not 1 <= self.gap_bits <= 8:
            raise AccelError(f"--gap-bits {self.gap_bits}: choose 1 to 8")
        if not 0 <= self.min_density <= 1:
            raise AccelError(f"--min-density {self.min_density}: choose a fraction in [0, 1]")
        for name, value in (("--train-images", self.train_images), ("--eval-images", self.eval_images)):
            if value is not None and value < 1:
                raise AccelError(f"{name} {value}: must be >= 1")
        if not (isinstance(self.max_drop, (int, float)) and 0 <= self.max_drop <= 100):
            raise AccelError(f"--max-drop {self.max_drop}: choose accuracy points from 0 to 100")
        return self

    def steps_from_epochs(self, epochs: float, train_images: int) -> None:
        """--epochs E: E passes over the training images in all; 2/3 for pruning, 1/3 sharing."""
        if not epochs > 0:
            raise AccelError(f"--epochs {epochs}: must be > 0")
        total = epochs * math.ceil(train_images / self.batch_size)
        self.prune_steps = max(1, round(total * 2 / 3 / self.stages))
        self.share_steps = max(1, round(total / 3))


def load_source(model_path):
    """(QuantModel, Brevitas model, checkpoint dict) of a model file and its .pt sidecar."""
    from accel.core.modelfile import load_model
    from accel.training.fit import load_checkpoint, model_from_checkpoint

    qm = load_model(model_path)
    pt = qm.path.with_suffix(".pt")
    if not pt.is_file():
        raise AccelError(f"{pt} is missing: compress retrains, so it needs the checkpoint the "
                         f"model file was exported with (accel export writes it beside the .onnx)")
    want = qm.meta.get("sidecar.pt")
    if want and hashlib.sha256(pt.read_bytes()).hexdigest() != want:
        raise AccelError(f"{pt} is not the checkpoint {qm.path.name} was exported from: re-export")
    model, cfg, _ = model_from_checkpoint(pt)
    if cfg.float_model:
        raise AccelError(f"{pt} is a float reference run: compress needs a quantized model")
    return qm, model, load_checkpoint(pt)


def encode_model(qm, gap_bits: int) -> tuple[bytes, list]:
    """Encode a model file's conv codes and prove the decoder restores them exactly."""
    layers = model_layers(qm)
    blob, stats = codec.encode(layers, gap_bits)
    decoded = codec.decode(blob, [l.weight.shape for l in layers])
    for want, got in zip(layers, decoded):
        same_bias = (want.bias is None and got.bias is None) or (
            want.bias is not None and got.bias is not None and np.array_equal(want.bias, got.bias))
        if not (np.array_equal(want.weight, got.weight) and want.wfrac == got.wfrac
                and same_bias and (want.bias is None or want.bfrac == got.bfrac)):
            raise AccelError(f"internal error: decoding layer {want.name} did not restore its codes")
    return blob, stats


def rejected_path(out_dir) -> Path:
    """Where a rejected result goes: <out>.rejected beside --out, or when that is something
    compress did not write (a file, a folder of the user's), <out>.rejected-2, -3, ...: never a
    user's file (atomic.check's rules; a previous rejected result is replaced)."""
    out_dir = Path(out_dir)
    for n in range(1, 100):
        path = out_dir.with_name(out_dir.name + REJECTED + (f"-{n}" if n > 1 else ""))
        try:
            return atomic.check(path, "compress")
        except AccelError:
            continue
    raise AccelError(f"{out_dir}{REJECTED}-1..99 all exist: remove some to keep a rejected result")


def _counted(after_step, bar):
    """after_step, then one step on the progress bar."""
    def step():
        after_step()
        bar.advance()
    return step


def compress(model_path, out_dir, cfg: CompressConfig, epochs: float | None = None,
             log=print, force: bool = False) -> dict:
    """Run the whole pipeline; returns the report (also written to out_dir/report.json). An
    existing out_dir is replaced only when it is an `accel compress` output or force is given."""
    from accel import data, golden
    from accel.training.export import export_model
    from accel.core.modelfile import load_model
    from accel.training.fit import evaluate

    cfg.check()
    out_dir = atomic.check(out_dir, "compress", force)  # before any work
    qm, model, ckpt = load_source(model_path)
    spec = ckpt["config"]
    wbits, bbits = int(spec["wbits"]), int(spec["bbits"])
    convs = tune.conv_layers(model, wbits)
    names = [c.name for c in convs]
    if names != [l.name for l in qm.layers if l.kind == "conv"]:
        raise AccelError(f"{qm.path}: the checkpoint's convs do not match the model file's layers")
    cfg.layer_sparsity = prune.parse_layer_targets(
        ",".join(f"{k}={v}" for k, v in cfg.layer_sparsity.items()), names)
    ds = data.load_dataset(ckpt["dataset"], size=tuple(ckpt["input_hw"]),
                           channels=ckpt["in_channels"])
    train_split = ds.train if cfg.train_images is None else data.Split(
        ds.train.x[:cfg.train_images], ds.train.y[:cfg.train_images])
    n_eval = len(ds.test) if cfg.eval_images is None else min(cfg.eval_images, len(ds.test))
    test_split = data.Split(ds.test.x[:n_eval], ds.test.y[:n_eval])
    if epochs is not None:
        cfg.steps_from_epochs(epochs, len(train_split))
    tmp = atomic.make_temp(out_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    t_start = time.time()

    def accuracy(what: str) -> float:
        with progress.task(f"compress: accuracy {what} ({n_eval} test images)"):
            return evaluate(model, test_split)

    try:
        torch.manual_seed(cfg.seed)
        log(f"{qm.path.name}: {len(names)} conv layers, {sum(c.module.weight.numel() for c in convs)} "
            f"weights; {len(train_split)} training images, {n_eval} test images")
        acc = {"quantized": accuracy("original")}
        log(f"original: {acc['quantized'] * 100:.2f} % (torch = golden)")
        original = {c.name: c.codes().numpy() for c in convs}
        biases = tune.freeze_activation_scales(model)
        stream = tune.batch_stream(train_split, cfg.batch_size, cfg.seed)

        # -- prune: gradual magnitude pruning, retraining after each step
        masks = {c.name: torch.ones_like(c.module.weight, dtype=torch.bool) for c in convs}
        steps = prune.schedule(cfg.sparsity, cfg.stages)

        def mask_grads():
            for c in convs:
                if c.module.weight.grad is not None:
                    c.module.weight.grad.mul_(masks[c.name])

        def apply_masks():
            with torch.no_grad():
                for c in convs:
                    c.module.weight.mul_(masks[c.name])

        weights = [c.module.weight for c in convs]
        for t, target in enumerate(steps if cfg.sparsity > 0 else []):
            mags = {c.name: c.module.weight.detach().abs() for c in convs}
            masks = prune.magnitude_masks(mags, target, cfg.scope, cfg.layer_sparsity,
                                          cfg.min_density)
            apply_masks()
            with progress.task(f"compress: prune {t + 1}/{len(steps)}", total=cfg.prune_steps,
                               unit="steps") as bar:
                loss = tune.run(model, stream, cfg.prune_steps, weights + biases, cfg.lr,
                                after_backward=mask_grads, after_step=_counted(apply_masks, bar))
            log(f"prune step {t + 1}/{len(steps)}: sparsity {target:.3f} "
                f"(density {prune.density(masks):.3f}), loss {loss:.4f}")
        pruned_codes = {c.name: c.codes().numpy() for c in convs}
        acc["pruned"] = accuracy("pruned")
        log(f"pruned: {acc['pruned'] * 100:.2f} %, code density "
            f"{prune.code_density(pruned_codes):.3f}")

        # -- share: k-means codebook per layer, centroids fine-tuned
        shared = [share.SharedLayer(c.module, c.codes(), c.scale(), cfg.share_bits, c.qmax)
                  for c in convs]

        def load_shared():
            for s in shared:
                s.load()

        def centroid_grads():
            for s in shared:
                s.grad_to_centroids()

        def clamp():
            for s in shared:
                s.clamp()

        load_shared()
        acc["clustered"] = accuracy("k-means")
        groups = [{"params": [s.centroids for s in shared], "lr": cfg.share_lr},
                  {"params": biases, "lr": cfg.lr}]
        with progress.task("compress: share", total=cfg.share_steps, unit="steps") as bar:
            loss = tune.run(model, stream, cfg.share_steps, groups, cfg.lr,
                            before_forward=load_shared, after_backward=centroid_grads,
                            after_step=_counted(clamp, bar))
        for s in shared:
            s.load(snapped=True)
        for c, s in zip(convs, shared):
            codes = c.codes()
            if not torch.equal(codes.to(torch.float64) * c.scale(),
                               c.module.weight.detach().to(torch.float64)):
                w = c.module.weight.detach().to(torch.float64)
                raise AccelError(f"internal error: shared weights of {c.name} are not on the grid "
                                 f"(scale {s.scale} -> {c.scale()}, max code {float((w / s.scale).abs().max())})")
            if len(np.unique(codes[codes != 0].numpy())) > 2 ** cfg.share_bits:
                raise AccelError(f"internal error: {c.name} has more than 2^B shared weights")
        acc["shared"] = accuracy("shared")
        log(f"shared ({cfg.share_bits} bits): {acc['shared'] * 100:.2f} % after fine-tuning "
            f"(k-means only: {acc['clustered'] * 100:.2f} %), loss {loss:.4f}")

        # -- export: an ordinary model file + its checkpoint
        settings = dict(asdict(cfg), wbits=wbits, bbits=bbits, epochs=epochs,
                        source=str(qm.path), source_sha256=hashlib.sha256(
                            qm.path.read_bytes()).hexdigest())
        ckpt_out = {k: v for k, v in ckpt.items() if k not in ("optimizer", "scheduler", "state")}
        ckpt_out["state_dict"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        ckpt_out["compress"] = json.dumps(settings, sort_keys=True)
        side = tmp / "checkpoint.tmp.pt"
        torch.save(ckpt_out, side)
        meta = {k: v for k, v in qm.meta.items() if k not in ("format", "input", "sidecar.pt")}
        meta["compress"] = {k: settings[k] for k in ("sparsity", "share_bits", "scope", "gap_bits",
                                                     "source_sha256")}
        model_file = tmp / "model.onnx"
        with progress.task("compress: export"):
            export_model(model, qm.input_shape, model_file, meta, {".pt": side})
        side.unlink()

        # -- encode the exported codes, decode, compare
        qm_out = load_model(model_file)
        blob, stats = encode_model(qm_out, cfg.gap_bits)
        (tmp / BITSTREAM).write_bytes(blob)
        x, y = test_split.x, test_split.y
        with progress.task(f"compress: golden accuracy ({len(y)} test images)"):
            acc["golden"] = float((golden.predict(qm_out, x) == y).mean())
        log(f"exported: golden accuracy {acc['golden'] * 100:.2f} % of {len(y)} test images; "
            f"{BITSTREAM}: {len(blob)} bytes (decoded exactly)")

        rep = report.build(qm, qm_out, original, blob, stats, cfg.share_bits, cfg.gap_bits, wbits,
                           bbits, acc, settings, n_eval, time.time() - t_start)
        # the input model's accuracy (torch = golden, bit-exact) against the exported model's
        drop = (acc["quantized"] - acc["golden"]) * 100
        rep["accuracy_drop_points"], rep["rejected"] = round(drop, 4), drop > cfg.max_drop
        report.write(rep, tmp)
        atomic.mark(tmp, "compress")
        if rep["rejected"]:
            aside = rejected_path(out_dir)
            atomic.swap_in(tmp, aside)
            rep["out"] = str(aside)
            raise AccuracyDropped(
                f"golden accuracy {acc['golden'] * 100:.2f} % vs {acc['quantized'] * 100:.2f} % of "
                f"the input model on {n_eval} test images: {drop:.2f} points lost, more than "
                f"--max-drop {cfg.max_drop:g}; the result is in {aside}, not {out_dir}; to accept "
                f"it, rerun with --max-drop {math.ceil(drop * 100) / 100:g}", aside, rep)
        atomic.swap_in(tmp, out_dir)
        rep["out"] = str(out_dir)
        return rep
    finally:
        atomic.discard(tmp)
        torch.set_num_threads(threads)
