"""`accel run`: the PYNQ driver on the board, or on the simulated device (the RTL simulation)."""

import json
from pathlib import Path

from accel.cli.common import _model_path
from accel.core import config
from accel.core.errors import AccelError


def cmd_run(args) -> int:
    """The PYNQ driver on the board, or against the simulated device (the RTL simulation)."""
    from accel.python.driver import DriverError

    try:
        return _run(args)
    except DriverError as e:  # the board-side runtime has no AccelError: the same one line, exit 2
        raise AccelError(str(e)) from None


def _run(args) -> int:
    import time

    from accel import data
    from accel.core import boards
    from accel.core.modelfile import load_model
    from accel.python import driver
    from accel.verify import against_golden

    if args.board != "sim":
        boards.get(args.board)  # unknown board: one line, exit 2
        try:
            import pynq  # noqa: F401  (board-only; pins numpy<2)
        except ImportError:
            raise AccelError(f"pynq is not installed here: run `accel run --board {args.board}` "
                             "on the board (a PYNQ 4.0 image) or use --board sim") from None
        folder = Path(args.overlay or Path("build") / args.board / "overlay")
        meta = driver.load_metadata(folder)
        if meta.get("board") not in (args.board, None):
            raise AccelError(f"{folder} is an overlay for {meta['board']}, not {args.board}")
        qm = load_model(Path(args.model) if args.model else
                        Path(meta["_path"]).parent / "model.onnx")
        acc = driver.AccelOverlay(folder, timeout_s=args.timeout, batch=args.batch)
        where, sim_overlay = f"{args.board} ({folder})", None
    else:
        from accel.rtl import simdevice

        qm = load_model(simdevice.model_path(args.overlay) if args.overlay and not args.model
                        else _model_path(args))
        sim_overlay, meta = simdevice.sim_overlay(qm, folder=args.overlay,
                                                  simulator=args.simulator)
        acc = driver.Accelerator(sim_overlay, meta, allocate=sim_overlay.allocate,
                                 timeout_s=args.timeout, batch=args.batch)
        where = f"simulated device ({args.simulator} RTL simulation, {sim_overlay.device.rtl_dir})"
    images = data.images_for(qm, args.images, args.dataset)
    x, y, name = images.x, images.y, images.dataset
    t0 = time.perf_counter()
    res = acc.run(x)
    wall = time.perf_counter() - t0
    mismatches = against_golden("driver", qm, x, res.codes).mismatched_images
    acc_pct = float((res.labels == y).mean()) * 100
    summary = {"board": args.board, "device": where, "model": str(qm.path), "dataset": name,
               "images": len(y), "predictions": res.labels.tolist(), "labels": y.tolist(),
               "accuracy": acc_pct / 100, "golden_mismatches": mismatches,
               "host_seconds": round(wall, 3), "host_images_per_s": len(y) / wall}
    if sim_overlay is not None:
        st = sim_overlay.stats()
        summary["simulated"] = st
    if args.json:
        print(json.dumps(summary, indent=1))
        return 1 if mismatches else 0
    shown = 32
    print(f"{where}: {len(y)} {name} test images")
    print("predicted: " + " ".join(res.names[:shown]) + (" ..." if len(y) > shown else ""))
    names = qm.class_names  # a label past them (a dataset with more classes): its number
    print("label:     " + " ".join(str(names[int(v)]) if int(v) < len(names) else str(int(v))
                                   for v in y[:shown])
          + (" ..." if len(y) > shown else ""))
    print(f"accuracy: {acc_pct:.2f} % ({int((res.labels == y).sum())}/{len(y)}); golden model: "
          f"{mismatches} mismatching images")
    if sim_overlay is not None:
        print(f"simulated: {st['images_per_s']:.0f} images/s at {st['clock_mhz']:g} MHz "
              f"(II {st['ii_cycles']:.0f} cycles, latency {st['latency_cycles']} cycles; "
              f"{st['cycles']} cycles for the {st['images']} images)")
    print(f"host wall time: {wall:.2f} s ({len(y) / wall:.1f} images/s"
          + (", the simulation's)" if sim_overlay is not None else ", DMA and driver included)"))
    return 1 if mismatches else 0


def add_run(sub) -> None:
    r = sub.add_parser("run", help="PYNQ driver: inference on the board, or --board sim (the "
                                   "RTL simulation behind the same driver)")
    r.add_argument("--board", required=True, help="sim, or a board (zybo, zybo-z7-10, zybo-z7-20, "
                   "pynq-z2): on the board itself, with pynq installed")
    r.add_argument("--model", default=None, help="model file (default: embedded tiny-mnist; on a "
                   "board: the overlay's model.onnx)")
    r.add_argument("--images", type=config.cli_int(1, 10_000_000), default=16,
                   help="first N test images of the model's dataset")
    r.add_argument("--dataset", default=None, help="mnist, fashion-mnist or folder:PATH, resized "
                   "to the model's input (default: the dataset the model file names)")
    r.add_argument("--overlay", default=None, metavar="DIR", help="board: the overlay folder "
                   "(default build/BOARD/overlay); sim: an RTL folder or `accel build --backend "
                   "rtl` folder (default: generate the RTL for the model, cached)")
    r.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator",
                   help="--board sim: the RTL simulator behind the simulated device")
    r.add_argument("--batch", type=config.cli_int(1, 65_536), default=256,
                   help="images per DMA transfer")
    r.add_argument("--timeout", type=config.cli_number(0, 3600, above=True, unit=" (s)"),
                   default=2.0, help="seconds per DMA wait")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.set_defaults(func=cmd_run)
