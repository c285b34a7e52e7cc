"""The command-line driver of an accel overlay (as FINN's driver.py / validate.py):

    python -m accel_zybo --validate            the shipped test vectors: accuracy, mismatches
                                               against the golden model, throughput
    python -m accel_zybo --images DIR|FILE...  predict image files (the model's preprocessing)

(On the host, with the accel package: python -m accel.python --overlay DIR ...)
Exit codes: 0 done; 1 an output differs from the golden model; 2 bad input or a device error.
"""

import argparse
import sys

from .driver import DEFAULT_TIMEOUT_S, HERE, load_vectors
from .errors import DriverError


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog=f"python -m {__package__}", description="The command-line driver of an accel "
        "overlay: its test vectors against the golden model, or image files classified.",
        epilog=f"examples: python -m {__package__} --validate; python -m {__package__} "
        "--images photos/")
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--validate", action="store_true",
                      help="run the test vectors shipped in the overlay")
    what.add_argument("--images", nargs="+", metavar="DIR|FILE",
                      help="image files or folders of them to classify")
    ap.add_argument("--overlay", default=str(HERE),
                    help="overlay folder (default: this package's, %(default)s)")
    ap.add_argument("--batch", type=int, default=256, help="images per DMA transfer "
                    "(default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                    help="seconds per DMA wait before a DeviceTimeout (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        from .driver import AccelOverlay  # pynq: the board's

        ov = AccelOverlay(args.overlay, timeout_s=args.timeout, batch=args.batch)
        return validate(ov) if args.validate else predict(ov, args.images)
    except DriverError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def validate(ov) -> int:
    rep = ov.validate(load_vectors(ov.folder))
    meta = ov.meta
    print(f"{meta['model']['file']} on {meta['board']}: {rep['images']} test vectors "
          f"({rep['source']})")
    print("accuracy: " + ("n/a (the test vectors have no labels)" if rep["accuracy"] is None else
                          f"{rep['accuracy'] * 100:.2f} % ({rep['correct']}/{rep['images']})"))
    print(f"golden model: {rep['mismatching_images']} mismatching images "
          f"({rep['mismatching_codes']} of {rep['codes']} output codes)")
    print(f"throughput: {rep['images_per_s']:.1f} images/s (host wall clock, batch "
          f"{min(rep['batch'], rep['images'])}: packing, DMA and driver included)")
    return 1 if rep["mismatching_images"] else 0


def predict(ov, paths) -> int:
    from .images import files

    found = files(paths)
    res = ov.run(found)
    for path, label, name in zip(found, res.labels, res.names):
        print(f"{path}: {name} (class {label})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
