"""`accel build`: the whole chain to a Zynq overlay, its options also from a build.yaml."""

import argparse

from accel.cli.common import EXIT_CODES, MODEL_HELP
from accel.core import config
from accel.core.errors import AccelError


def cmd_build(args) -> int:
    from accel.api import Model

    spec = config.build_config(args.config) if args.config else config.BuildConfig()
    # the build flags default to SUPPRESS: only the ones given are in args, and they win
    spec = spec.model_copy(update={k: v for k, v in vars(args).items()
                                   if k in config.BuildConfig.model_fields})
    if spec.board is None:
        raise AccelError("--board is required (or a board: key in the --config file)")
    if isinstance(spec.hls_config, dict):  # inline: checked here, where the file has a name
        from accel.hls.generate import load_config

        load_config(spec.hls_config, f"build config {args.config}: hls_config")
    return Model.load(spec.model).build(spec.board, backend=spec.backend, out=spec.out,
                                        until=spec.until, images=spec.images,
                                        accuracy_images=spec.accuracy_images,
                                        force=spec.force, dataset=spec.dataset, fold=spec.fold,
                                        target_fps=spec.target_fps, clock_mhz=spec.clock_mhz,
                                        hls_config=spec.hls_config, start=spec.start).code


def add_build(sub) -> None:
    b = sub.add_parser("build", help="whole chain -> Zynq overlay in OUT/BOARD (cached stages; "
                                     "exit 3 when vitis_hls/vivado are missing: see --help)",
                       description="model -> golden vectors -> HLS project + C-sim check (or RTL "
                       "+ simulation) -> Vitis HLS -> Vivado -> overlay (bit, hwh, metadata, "
                       "driver) in OUT/BOARD, with report.md. Stages are cached by content hash "
                       "and resume after an interruption. Every option can also come from a "
                       "YAML file (--config: one key per option, named like it with '_' for '-' "
                       "and start for --from, e.g. board: zybo, until: hls, accuracy_images: 100, "
                       "fold: {target_fps: 2000, layers: {conv1: {pe: 4}}}); options given on "
                       "the command line override the file's keys.\n\n" + EXIT_CODES)
    dflt = {k: f.default for k, f in config.BuildConfig.model_fields.items()}
    # SUPPRESS: an option not given is absent from args, so --config's value stands
    b.add_argument("--config", default=None, metavar="YAML", help="build.yaml with the keys "
                   + ", ".join(dflt) + "; relative paths are from the file's folder; options "
                   "given on the command line override its keys (default: none, the options "
                   "below)")
    b.add_argument("--board", default=argparse.SUPPRESS, help="zybo, zybo-z7-10, zybo-z7-20, "
                   "pynq-z2 (accel/boards/*.yaml); required here or in --config")
    b.add_argument("--model", default=argparse.SUPPRESS, help=MODEL_HELP)
    b.add_argument("--backend", choices=("hls", "rtl"), default=argparse.SUPPRESS,
                   help=f"hls4ml + Vitis HLS, or our Verilog (default: {dflt['backend']})")
    b.add_argument("--from", "--start", dest="start", default=argparse.SUPPRESS,
                   metavar="STAGE", help="resume at STAGE: the stages before it are not run and "
                   "must be done already for these options (else exit 2 naming the first that is "
                   "not); build.yaml key: start (default: the first stage)")
    b.add_argument("--until", default=argparse.SUPPRESS, metavar="STAGE",
                   help="stop after STAGE: model, golden, hls|rtl, vitis (hls), vivado, overlay "
                   "(default: the whole flow)")
    b.add_argument("--out", default=argparse.SUPPRESS,
                   help=f"build folder (default: {dflt['out']})")
    b.add_argument("--force", action="store_true", default=argparse.SUPPRESS,
                   help="build into an existing OUT/BOARD that accel build did not create")
    b.add_argument("--images", type=config.cli_int(1, 100_000), default=argparse.SUPPRESS,
                   help=f"golden vectors checked at each level (default: {dflt['images']})")
    b.add_argument("--dataset", default=argparse.SUPPRESS, help="images for the golden vectors "
                   "and the accuracy: mnist, fashion-mnist or folder:PATH; a missing dataset "
                   "stops the build, never replaced by random pixels (default: the dataset the "
                   "model file names)")
    b.add_argument("--accuracy-images", type=config.cli_int(0, 10_000_000),
                   default=argparse.SUPPRESS, help="test images for the golden accuracy in the "
                   f"report (default: {dflt['accuracy_images']})")
    b.add_argument("--fold", default=argparse.SUPPRESS, metavar="YAML",
                   help="rtl backend: fold.yaml (target_fps, clock_mhz, layers: {name: {pe, "
                   "simd}}; see accel/rtl/fold.py), in build.yaml also inline as a mapping; the "
                   "fold chosen is written to OUT/BOARD/rtl/fold.json (default: automatic)")
    b.add_argument("--target-fps", type=config.cli(config.FPS), default=argparse.SUPPRESS,
                   help="rtl backend: the images/s the automatic folding aims for, over the "
                   "fold's own (default: the fold's, else accel/rtl/fold.py's)")
    b.add_argument("--clock-mhz", type=config.cli(config.CLOCK_MHZ), default=argparse.SUPPRESS,
                   help="the one clock of the build: the fold, the HLS clock, Vivado's fabric "
                   "clock (default: the fold's or HLS config's, else the board's)")
    b.add_argument("--hls-config", default=argparse.SUPPRESS, metavar="YAML",
                   help="hls backend: YAML over accel/hls/hls.yaml (strategy / ReuseFactor per "
                   "layer, multipliers per board), in build.yaml also inline as a mapping "
                   "(default: hls.yaml as shipped)")
    b.set_defaults(func=cmd_build)
