"""Stage: quantization-aware training with Brevitas, into a run directory.

A run directory holds:
    config.json      the recipe (model, dataset, bits, schedule, seed): `accel train` flags
    float.pt         weights after the optional float pre-training phase (--float-epochs)
    checkpoint.pt    last epoch: weights, optimizer, scheduler, epoch, RNG states (resume point:
                     a resumed run equals an uninterrupted one bit for bit)
    best.pt          weights with the best validation accuracy (what `accel export` takes)
    metrics.json     per-epoch loss/accuracy, final test accuracy, params, seconds
Every file is written atomically, so an interrupted run resumes from its last complete epoch.
Checkpoints hold only tensors and plain values: they load with torch.load(weights_only=True).
"""

import json
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from accel.training import zoo
from accel import data
from accel.core import atomic
from accel.core.errors import AccelError
from accel.training.layers import FloatOps, fold_batchnorm
from accel.training.quantizers import QuantSpec, make_ops


FLOAT_STEPS = 450  # automatic schedule (TrainConfig.resolve): float optimizer steps at least
QAT_STEPS = 100  # quantization-aware steps at least


@dataclass
class TrainConfig:
    model: str = "tiny-mnist"
    dataset: str = "mnist"
    wbits: int = 8
    abits: int = 8
    bbits: int = 32
    float_model: bool = False  # train without quantizers (reference only; cannot be exported)
    epochs: int | None = None  # quantization-aware epochs (None: auto, see resolve())
    float_epochs: int | None = None  # float pre-training epochs before QAT (None: auto)
    batch_size: int | None = None  # None: auto from the training-set size
    lr: float = 0.004
    qat_lr: float | None = None  # default: lr / 10 when QAT starts from trained weights, else lr
    weight_decay: float = 1e-4
    augment: bool = True
    seed: int = 0
    size: tuple | None = None  # (H, W); None = the dataset's native size
    channels: int | None = None
    dropout: float | None = None
    init: str | None = None  # a run dir or checkpoint to start from (e.g. int8 run for int4)
    split: tuple | None = None  # folder datasets: (train, val, test) fractions; None: 0.8/0.1/0.1
    model_args: dict | None = None  # zoo metaparameters, e.g. squeezenet-meta's base_e, sr

    def resolve(self, train_images: int) -> "TrainConfig":
        """The automatic schedule, fixed into the recipe once the data is known. Measured on a
        300-image 3-class folder (benchmarks/shapes.py) and MNIST: the net needs a few hundred
        float steps to learn and ~100 QAT steps to settle; a small set wants small batches.
        Brevitas costs ~5x per step, so the float phase does the learning."""
        batch = self.batch_size or int(min(128, max(16, 2 ** int(np.log2(max(train_images, 1) / 16)))))
        steps = -(-train_images // batch)  # per epoch
        auto = {"batch_size": batch}
        if self.float_epochs is None:
            auto["float_epochs"] = 0 if self.float_model else int(min(60, -(-FLOAT_STEPS // steps)))
        if self.epochs is None:
            auto["epochs"] = int(max(2, -(-QAT_STEPS // steps)))
        return TrainConfig.from_dict(dict(_jsonable(self), **auto))

    def spec(self) -> QuantSpec | None:
        return None if self.float_model else QuantSpec(self.wbits, self.abits, self.bbits).check()

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in d.items() if k in names})
        cfg.size = tuple(cfg.size) if cfg.size is not None else None
        cfg.split = tuple(cfg.split) if cfg.split is not None else None
        return cfg


def _model_kwargs(cfg: TrainConfig) -> dict:
    return dict(cfg.model_args or {}, **({} if cfg.dropout is None else {"dropout": cfg.dropout}))


def build(cfg: TrainConfig, num_classes: int, in_channels: int) -> nn.Module:
    return zoo.build_model(cfg.model, num_classes, in_channels, ops=make_ops(cfg.spec()),
                           **_model_kwargs(cfg))


def _save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(obj, (dict, list)) and path.suffix == ".json":
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    else:
        torch.save(obj, tmp)
    os.replace(tmp, path)


def _load_pt(path: Path) -> dict:
    """torch.load with weights_only=True (never unpickle code); any failure is one line."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise AccelError(f"checkpoint {path} is unreadable or not a weights-only file "
                         f"({type(exc).__name__}): retrain or pick another run") from None


def _rng_state() -> dict:
    """Every random stream training draws from besides the per-epoch data order (which is seeded
    by epoch): torch's (dropout, init) and numpy's global one. Saved with each checkpoint so a
    resumed run continues the very same sequence as an uninterrupted one."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
            "numpy_pos": int(pos), "numpy_gauss": [int(has_gauss), float(gauss)]}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32),
                         state["numpy_pos"], *state["numpy_gauss"]))


def _stats_state(model) -> dict:
    """Brevitas' activation scales learn from statistics over their first steps (a step counter, a
    running buffer and the raw value parameter): state_dict keeps only a derived value and its
    loader ends the collection, so a checkpoint taken mid-collection keeps these itself."""
    return {name: {"counter": int(m.counter), "buffer": m.buffer.detach().clone(),
                   "value": m.value.detach().clone()}
            for name, m in model.named_modules()
            if hasattr(m, "collect_stats_steps") and hasattr(m, "buffer")}


def _set_stats_state(model, state: dict) -> None:
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, s in state.items():
            m = modules[name]
            m.counter = s["counter"]
            m.buffer.copy_(s["buffer"])
            m.value.copy_(s["value"])


def load_checkpoint(path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise AccelError(f"checkpoint {path} not found: pass a run directory written by "
                         "`accel train` (it holds best.pt)")
    ckpt = _load_pt(path)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "config" not in ckpt:
        raise AccelError(f"checkpoint {path} is not an accel checkpoint: retrain with accel train")
    return ckpt


def model_from_checkpoint(path) -> tuple[nn.Module, TrainConfig, dict]:
    ckpt = load_checkpoint(path)
    cfg = TrainConfig.from_dict(ckpt["config"])
    model = build(cfg, ckpt["num_classes"], ckpt["in_channels"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, cfg, ckpt


def evaluate(model: nn.Module, split: data.Split, batch_size: int = 500) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in data.batches(split, batch_size, shuffle=False, seed=0):
            out = model(xb)
            out = getattr(out, "value", out)  # a QuantTensor from a quantized model
            correct += int((out.argmax(1) == yb).sum())
    return correct / max(len(split), 1)


def _calibrate(model: nn.Module, split: data.Split, seed: int) -> None:
    """Run a few training-mode batches without gradient steps so Brevitas' activation quantizers
    initialise their scales from statistics before the first optimizer step."""
    model.train()
    with torch.no_grad():
        for i, (xb, _) in enumerate(data.batches(split, 256, shuffle=True, seed=seed)):
            model(xb)
            if i >= 40:
                break


def _fit(model, ds, epochs: int, lr: float, cfg: TrainConfig, progress: bool, log, tag: str,
         on_epoch=None, resume_from: dict | None = None) -> dict:
    """AdamW + one-cycle schedule over `epochs`; calls on_epoch(state, opt, sched) after each."""
    from tqdm import tqdm

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = -(-len(ds.train) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.2)
    state = {"epoch": 0, "history": [], "best_val": -1.0, "seconds": 0.0}
    if resume_from:
        opt.load_state_dict(resume_from["optimizer"])
        sched.load_state_dict(resume_from["scheduler"])
        state = json.loads(resume_from["state"])
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(state["epoch"], epochs):
        t0 = time.time()
        model.train()
        total, correct, loss_sum = 0, 0, 0.0
        bar = tqdm(data.batches(ds.train, cfg.batch_size, shuffle=True, seed=cfg.seed + epoch,
                                augment=cfg.augment), total=steps_per_epoch,
                   desc=f"{tag} epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for xb, yb in bar:
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += len(yb)
            correct += int((out.argmax(1) == yb).sum())
            loss_sum += loss.item() * len(yb)
            bar.set_postfix(loss=f"{loss_sum / total:.4f}", acc=f"{correct / total:.4f}")
        val = evaluate(model, ds.val)
        state["seconds"] += time.time() - t0
        state["epoch"] = epoch + 1
        state["history"].append({"phase": tag, "epoch": epoch + 1, "loss": loss_sum / total,
                                 "train_acc": correct / total, "val_acc": val})
        log(f"{tag} epoch {epoch + 1}/{epochs}: loss {loss_sum / total:.4f} "
            f"train {correct / total:.4f} val {val:.4f} ({time.time() - t0:.0f} s)")
        if on_epoch:
            on_epoch(state, val, opt, sched)
    return state


def _weights(model, cfg: TrainConfig, ds) -> dict:
    return {"state_dict": model.state_dict(), "config": _jsonable(cfg),
            "num_classes": len(ds.class_names), "in_channels": ds.channels,
            "input_hw": list(ds.size), "class_names": list(ds.class_names),
            "dataset": cfg.dataset, "split": _split(ds)}


def _split(ds) -> dict:
    return {"train": len(ds.train), "val": len(ds.val), "test": len(ds.test)}


def train(cfg: TrainConfig, out_dir, resume: bool = False, progress: bool = True,
          log=print, force: bool = False) -> dict:
    """Train (or resume) a run; returns its metrics. out_dir is a folder this command created
    (accel.core.atomic's marker), a new or empty one, or any folder with force."""
    cfg.spec()  # validates the bit widths before any work
    out_dir = atomic.check(out_dir, "train", force)
    if resume and not (out_dir.is_dir() and any(out_dir.iterdir())):  # a wrong path, likely
        raise AccelError(f"--resume: {out_dir} holds no run to continue: check the path, or "
                         "leave out --resume to start a new run")
    if out_dir.exists() and any(out_dir.iterdir()) and not resume:
        raise AccelError(f"run directory {out_dir} is not empty: pass --resume to continue it "
                         "or choose a new --out")
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    ds = data.load_dataset(cfg.dataset, size=cfg.size, seed=cfg.seed, channels=cfg.channels,
                           fractions=cfg.split)
    log(ds.describe())
    for note in ds.notes:
        log(f"note: {note}")
    cfg = cfg.resolve(len(ds.train))
    log(f"schedule: {cfg.float_epochs} float + {cfg.epochs} quantization-aware epochs, batch "
        f"{cfg.batch_size}")
    model = build(cfg, len(ds.class_names), ds.channels)  # bad names fail before anything is written
    init = load_checkpoint(cfg.init) if cfg.init and not resume else None  # likewise a bad --init
    atomic.claim(out_dir, "train")
    ckpt_path = out_dir / "checkpoint.pt"
    resume_from = None
    if resume and ckpt_path.is_file():
        resume_from = _load_pt(ckpt_path)
        if not isinstance(resume_from, dict) or resume_from.get("config") != _jsonable(cfg):
            raise AccelError(f"--resume: {out_dir} was trained with another configuration; "
                             "use the same flags or a new --out")
    elif not (out_dir / "config.json").is_file():
        _save(_jsonable(cfg), out_dir / "config.json")
    elif json.loads((out_dir / "config.json").read_text()) != _jsonable(cfg):
        raise AccelError(f"--resume: {out_dir} was trained with another configuration; "
                         "use the same flags or a new --out")

    float_seconds = 0.0
    if resume_from:
        model.load_state_dict(resume_from["state_dict"])
        if "rng" in resume_from:
            _set_rng_state(resume_from["rng"])
            _set_stats_state(model, resume_from["quant_stats"])
        else:
            log("note: a checkpoint without RNG states (older accel): the resumed run continues "
                "but will not equal an uninterrupted one bit for bit")
        log(f"resuming {out_dir} after epoch {json.loads(resume_from['state'])['epoch']}")
    else:
        if cfg.float_epochs and not cfg.float_model:
            float_path = out_dir / "float.pt"
            fcfg = TrainConfig.from_dict(dict(_jsonable(cfg), float_model=True))
            if float_path.is_file():
                saved = _load_pt(float_path)
                state = saved["state_dict"]
                _set_rng_state(saved["rng"])  # where the uninterrupted run's streams stood
                log(f"float phase already done: {float_path}")
            else:
                # BatchNorm while the float net learns (a deep net of 2-channel squeezes trains
                # badly without it), folded into the convs before the quantizers see them.
                fmodel = zoo.build_model(cfg.model, len(ds.class_names), ds.channels,
                                         ops=FloatOps(batchnorm=True), **_model_kwargs(cfg))
                st = _fit(fmodel, ds, cfg.float_epochs, cfg.lr, cfg, progress, log, "float")
                float_seconds = st["seconds"]
                state = fold_batchnorm(fmodel.state_dict())
                _save(dict(_weights(fmodel, fcfg, ds), state_dict=state, rng=_rng_state()),
                      float_path)
            model.load_state_dict(state, strict=False)
        if init is not None:
            missing = model.load_state_dict(init["state_dict"], strict=False)
            log(f"initialised from {cfg.init} (new tensors: {len(missing.missing_keys)})")
        if cfg.spec() is not None:
            _calibrate(model, ds.train, cfg.seed)

    best = {"val": -1.0 if not resume_from else json.loads(resume_from["state"])["best_val"]}

    def on_epoch(state, val, opt, sched):
        weights = _weights(model, cfg, ds)
        if val > best["val"]:
            best["val"] = val
            state["best_val"] = val
            _save(weights, out_dir / "best.pt")
        _save(dict(weights, optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                   state=json.dumps(state), rng=_rng_state(), quant_stats=_stats_state(model)),
              ckpt_path)

    pretrained = bool(cfg.init or (cfg.float_epochs and not cfg.float_model))
    lr = cfg.qat_lr if cfg.qat_lr is not None else (cfg.lr / 10 if pretrained else cfg.lr)
    state = _fit(model, ds, cfg.epochs, lr, cfg, progress, log,
                 "float" if cfg.float_model else "qat", on_epoch, resume_from)
    best_model, _, _ = model_from_checkpoint(out_dir / "best.pt")
    metrics = {"config": _jsonable(cfg), "history": state["history"],
               "best_val_acc": state["best_val"], "test_acc": evaluate(best_model, ds.test),
               "params": zoo.count_params(best_model),
               "train_seconds": round(state["seconds"] + float_seconds, 1),
               "test_images": len(ds.test), "split": _split(ds),
               "class_names": list(ds.class_names), "note": "test_acc is the torch (Brevitas) model; "
               "the exported integer model is checked by accel eval / accel verify"}
    _save(metrics, out_dir / "metrics.json")
    log(f"test accuracy {metrics['test_acc']:.4f} (best val {state['best_val']:.4f})")
    return metrics


def _jsonable(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    d["size"] = list(cfg.size) if cfg.size else None
    d["split"] = list(cfg.split) if cfg.split else None
    return d
