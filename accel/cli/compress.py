"""`accel compress`: Deep Compression of a model file (or --structural size estimates)."""

import sys

from accel.cli.common import _model_path
from accel.core import config


def cmd_compress(args) -> int:
    from accel.compress.pipeline import CompressConfig, compress
    from accel.compress.prune import parse_layer_targets

    cfg = CompressConfig(
        sparsity=args.sparsity, share_bits=args.share_bits, scope=args.scope,
        layer_sparsity=parse_layer_targets(args.layer_sparsity), min_density=args.min_density,
        stages=args.stages, prune_steps=args.prune_steps, share_steps=args.share_steps,
        lr=args.lr, share_lr=args.share_lr, batch_size=args.batch_size, gap_bits=args.gap_bits,
        train_images=args.train_images, eval_images=args.eval_images, seed=args.seed,
        threads=args.threads, max_drop=args.max_drop).check()
    if args.structural:
        from accel.compress.structural import write_estimates

        print(write_estimates(args.structural, 1 - cfg.sparsity, cfg.share_bits, args.out,
                              gap_bits=cfg.gap_bits, force=args.force), end="")
        return 0
    from accel.compress.pipeline import AccuracyDropped

    try:
        rep = compress(_model_path(args), args.out, cfg, epochs=args.epochs,
                       log=(lambda *a: None) if args.quiet else print, force=args.force)
    except AccuracyDropped as exc:  # the input was fine, the result is not: exit 1, one line
        print(f"accel: compress rejected: {exc}", file=sys.stderr)
        return 1
    t, acc = rep["bytes"], rep["accuracy"]
    print(f"{rep['out']}: {t['huffman']:,} bytes ({rep['ratio_vs_float32']:.1f}x vs float32 "
          f"{t['float32']:,} B, {rep['ratio_vs_quantized']:.1f}x vs quantized {t['quantized']:,} B), "
          f"density {rep['density']:.3f}, golden accuracy {acc['huffman'] * 100:.2f} % of "
          f"{rep['test_images']} test images; model.onnx + model.pt, weights.adc, report.md, "
          "accuracy_vs_size.png")
    return 0


def add_compress(sub) -> None:
    z = sub.add_parser("compress", help="Deep Compression: prune, share weights, Huffman-code "
                                         "(the result is an ordinary model file)")
    z.add_argument("--model", default=None, help="model file with its .pt checkpoint beside it "
                   "(default: the embedded tiny-mnist model)")
    z.add_argument("--sparsity", type=float, default=0.6, help="fraction of weights pruned, [0, 1)")
    z.add_argument("--share-bits", type=int, default=4, help="B: 2^B shared weights per layer (1-8)")
    z.add_argument("--out", required=True, help="directory to write (replaced atomically)")
    z.add_argument("--force", action="store_true",
                   help="replace an existing --out that is not an `accel compress` output")
    z.add_argument("--epochs", type=config.cli_number(0, 10_000, above=True), default=None,
                   help="fine-tuning budget in passes over the training images (2/3 pruning, "
                        "1/3 sharing); overrides --prune-steps/--share-steps (default: the steps)")
    z.add_argument("--scope", choices=("global", "layer"), default="global",
                   help="one magnitude threshold for all layers, or the sparsity in each layer")
    z.add_argument("--layer-sparsity", default=None, metavar="NAME=S,...",
                   help="per-layer sparsity overrides, e.g. conv1=0.2,conv10=0.5 (default: none)")
    z.add_argument("--min-density", type=float, default=0.05,
                   help="global scope: keep at least this fraction of every layer")
    z.add_argument("--stages", type=int, default=4, help="gradual pruning steps (cubic schedule)")
    z.add_argument("--prune-steps", type=int, default=200, help="retraining steps per pruning step")
    z.add_argument("--share-steps", type=int, default=300, help="centroid fine-tuning steps")
    z.add_argument("--lr", type=config.cli_number(0, 10, above=True), default=3e-4,
                   help="weights/biases learning rate")
    z.add_argument("--share-lr", type=config.cli_number(0, 10, above=True), default=0.05,
                   help="centroid learning rate (codes)")
    z.add_argument("--batch-size", type=int, default=128, help="fine-tuning batch size")
    z.add_argument("--gap-bits", type=int, default=4, help="relative index bits (top value = filler)")
    z.add_argument("--train-images", type=int, default=None, help="fine-tune on the first N "
                   "(default: all)")
    z.add_argument("--eval-images", type=int, default=None, help="accuracy on the first N test "
                   "images (default: all)")
    z.add_argument("--seed", type=config.cli_int(0, 2**32 - 1), default=0,
                   help="sampling of the fine-tuning batches")
    z.add_argument("--threads", type=config.cli_int(1, 256), default=1, help="torch CPU threads")
    z.add_argument("--max-drop", type=config.cli_number(0, 100, unit=" (accuracy points)"),
                   default=1.0, metavar="POINTS", help="refuse (exit 1) a result whose golden "
                   "test accuracy is more than POINTS percentage points below the input model's; "
                   "it is kept in OUT.rejected")
    z.add_argument("--structural", default=None, metavar="MODELS",
                   help="instead: sizes of zoo models (e.g. squeezenet1_0,squeezenet1_1) at "
                        "--sparsity/--share-bits from their structure alone (synthetic weights; "
                        "default: compress --model)")
    z.add_argument("--quiet", action="store_true", help="no progress lines")
    z.set_defaults(func=cmd_compress)
