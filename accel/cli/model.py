"""The model steps: train, export, eval, verify, info (the model file, before any hardware)."""

from accel.cli.common import MODEL_HELP, _fractions, _load, _size
from accel.core import config

MODEL_ARGS = ("base_e", "incr_e", "pct_3x3", "freq", "sr", "num_fires", "bypass")  # zoo options


def cmd_train(args) -> int:
    from accel.api import Model

    Model.train(args.out, resume=args.resume, progress=not args.quiet, force=args.force,
                model=args.model, dataset=args.dataset, wbits=args.wbits, abits=args.abits,
                      bbits=args.bbits, float_model=args.float, epochs=args.epochs,
                      float_epochs=args.float_epochs,
                      batch_size=args.batch_size, lr=args.lr, qat_lr=args.qat_lr,
                      augment=not args.no_augment,
                      seed=args.seed, size=args.size, channels=args.channels,
                      dropout=args.dropout, init=args.init, split=args.split,
                      model_args={k: getattr(args, k) for k in MODEL_ARGS
                                  if getattr(args, k) is not None} or None)
    return 0


def cmd_export(args) -> int:
    from accel.api import Model

    out = Model.export(args.run, args.out, force=args.force).path
    print(f"wrote {out} (+ {out.with_suffix('.pt').name})")
    return 0


def cmd_eval(args) -> int:
    r = _load(args).evaluate(args.images, args.dataset, args.split)
    print(r.to_json() if args.json else f"{r.dataset} {args.split}: {r.accuracy * 100:.2f} % of "
          f"{r.images} images (golden integer model)")
    return 0


def cmd_verify(args) -> int:
    model = _load(args)
    res = model.verify(args.levels, args.images, args.dataset, args.split, args.checkpoint)
    total = res.mismatches
    if args.json:
        print(res.to_json())
    else:
        print(f"{model.path.name}: {res.images} {res.dataset} {args.split} images, "
              "reference = golden")
        print(f"{'level':8} {'layer':28} {'elements':>12} {'mismatches':>10}")
        for r in res.levels:
            if r.level == "golden":
                print(f"{'golden':8} {'(reference)':28} {'':>12} {'':>10}  {r.seconds:.1f} s")
                continue
            for layer, (n, m) in r.layers.items():
                print(f"{r.level:8} {layer:28} {n:12d} {m:10d}")
            print(f"{r.level:8} {'OUTPUT':28} {r.images * model.qm.num_classes:12d} "
                  f"{r.output_mismatches:10d}  {r.seconds:.1f} s")
        print("PASS: 0 mismatches" if total == 0 else f"FAIL: {total} mismatches")
    return 0 if total == 0 else 1


def cmd_info(args) -> int:
    from accel.core.kinds import support

    qm = _load(args).qm
    print(f"{qm.path}: input {qm.input_shape} {qm.input_type.describe()}, "
          f"{len(qm.layers)} layers, {sum(l.params for l in qm.layers)} parameters")
    for layer in qm.layers:
        extra = ""
        if layer.kind == "conv":
            extra = (f"w {layer.wtype.describe()} b {layer.btype.describe() if layer.btype else '-'} "
                     f"k{layer.kernel[0]} s{layer.stride[0]}{' relu' if layer.relu else ''}")
        print(f"  {layer.name:24} {layer.kind:8} out {str(layer.shape):14} "
              f"{layer.out.describe():12} {extra}")
    table = support(qm)
    print("backends: " + ", ".join(f"{b} {'no' if why else 'yes'}" for b, why in table.items()))
    for backend, why in table.items():
        for reason in why:
            print(f"  {backend}: {reason}")
    return 0


def add_train(sub) -> None:
    t = sub.add_parser("train", help="quantization-aware training (Brevitas)")
    t.add_argument("--model", default="tiny-mnist", help="network from the zoo: tiny-mnist, "
                   "squeezenet1_0, squeezenet1_1 (and -simple-bypass / -complex-bypass), "
                   "squeezenet-meta")
    t.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist or folder:PATH (one "
                   "subfolder per class; the split and class names are printed and recorded)")
    t.add_argument("--split", type=_fractions, default=None, metavar="TRAIN,VAL,TEST",
                   help="folder datasets: split fractions (default 0.8,0.1,0.1, per class, "
                   "seeded); MNIST and Fashion-MNIST have fixed splits")
    t.add_argument("--wbits", type=int, default=8, help="weight bits (2-8)")
    t.add_argument("--abits", type=int, default=8, help="activation bits (2-8)")
    t.add_argument("--bbits", type=int, default=32, help="bias bits (the accumulator's scale)")
    t.add_argument("--float", action="store_true", help="train a float reference (no export)")
    t.add_argument("--epochs", type=config.cli_int(1, 10_000), default=None,
                   help="quantization-aware epochs (default: auto, at least 100 steps and 2 "
                   "epochs)")
    t.add_argument("--float-epochs", type=config.cli_int(0, 10_000), default=None,
                   help="float pre-training epochs before QAT, where the net learns (default: "
                   "auto, at least 450 steps, at most 60 epochs)")
    t.add_argument("--batch-size", type=config.cli_int(1, 65_536), default=None,
                   help="default: auto, 16-128 by the training-set size (small sets want "
                   "small batches)")
    t.add_argument("--lr", type=config.cli_number(0, 10, above=True), default=0.004,
                   help="peak learning rate (one-cycle)")
    t.add_argument("--qat-lr", type=config.cli_number(0, 10, above=True), default=None,
                   help="QAT peak learning rate (default: --lr/10 after pre-training, else --lr)")
    t.add_argument("--no-augment", action="store_true",
                   help="no random shifts of the training images")
    t.add_argument("--seed", type=config.cli_int(0, 2**32 - 1), default=0,
                   help="initialization, shuffling, augmentation and folder split")
    t.add_argument("--size", type=_size, default=None, help="HxW input size (default: native: "
                   "28x28 for the MNISTs, a folder's own (most common) image size; other sizes "
                   "are resized bilinearly and the count printed)")
    t.add_argument("--channels", type=int, choices=(1, 3), default=None,
                   help="1 (grey) or 3 (RGB); default: the dataset's (a folder's majority)")
    t.add_argument("--dropout", type=float, default=None, help="default: the model's")
    meta = t.add_argument_group("zoo options (squeezenet-meta metaparameters; bypass for any "
                                "model); each defaults to the model's own value")
    meta.add_argument("--base-e", type=int, default=None, help="expand filters of the first fire")
    meta.add_argument("--incr-e", type=int, default=None, help="expand filters added every FREQ fires")
    meta.add_argument("--pct-3x3", type=float, default=None, help="share of 3x3 expand filters")
    meta.add_argument("--freq", type=int, default=None, help="fires between width increments")
    meta.add_argument("--sr", type=float, default=None, help="squeeze ratio (squeeze / expand)")
    meta.add_argument("--num-fires", type=int, default=None, help="number of fire modules")
    meta.add_argument("--bypass", choices=("none", "simple", "complex"), default=None,
                      help="residual bypass around fire modules")
    t.add_argument("--init", default=None, help="start from this run's weights (default: "
                   "random initialization)")
    t.add_argument("--out", required=True, help="run directory")
    t.add_argument("--force", action="store_true",
                   help="train into an existing --out that accel train did not create")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)


def add_export(sub) -> None:
    e = sub.add_parser("export", help="run directory -> quantized model file (QONNX)")
    e.add_argument("run", help="run directory written by accel train")
    e.add_argument("--out", required=True, help="model file to write (.onnx)")
    e.add_argument("--force", action="store_true",
                   help="replace an existing --out (and <stem>.pt) that is not an accel model file")
    e.set_defaults(func=cmd_export)


def add_eval_verify(sub) -> None:
    for name, func, helptext in (("eval", cmd_eval, "accuracy of the golden integer model"),
                                 ("verify", cmd_verify, "bit-exact comparison of levels")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--model", default=None, help=MODEL_HELP)
        s.add_argument("--dataset", default=None, help="mnist, fashion-mnist or folder:PATH "
                       "(default: the dataset the model file names)")
        s.add_argument("--split", choices=("train", "val", "test"), default="test",
                       help="which part of the dataset")
        s.add_argument("--images", type=config.cli_int(1, 10_000_000),
                       default=None if name == "eval" else 1000,
                       help="the first N images of the split"
                       + (" (default: all)" if name == "eval" else ""))
        s.add_argument("--json", action="store_true", help="print the result as JSON")
        if name == "verify":
            s.add_argument("--levels", default="torch,golden,qonnx",
                           help="comma-separated levels compared with golden: torch, golden, "
                           "qonnx, c, c-arm, hls, rtl")
            s.add_argument("--checkpoint", default=None,
                           help="training checkpoint for the torch level (default: the .pt "
                                "beside the model file)")
        s.set_defaults(func=func)


def add_info(sub) -> None:
    i = sub.add_parser("info", help="layers of a model file")
    i.add_argument("--model", default=None, help=MODEL_HELP)
    i.set_defaults(func=cmd_info)
