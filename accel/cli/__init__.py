"""The `accel` command line: each subcommand parses, calls one function of the Python API
(accel/api.py) and prints. Exit codes: see EXIT_CODES (shown by `accel --help`).
"""

import os
import sys

from accel.cli.common import _load  # noqa: F401  (tests load a model as the commands do)
from accel.cli.parser import build_parser
from accel.core.errors import AccelError
from accel.core.modelfile import DEFAULT_MODEL  # noqa: F401  (tests and benchmarks import it here)


def main(argv=None) -> int:
    from accel.core import process, progress

    try:
        # SIGTERM raises like Ctrl-C, so every `finally` removes its temporaries and children
        with process.interrupts():
            try:
                args = build_parser().parse_args(argv)
                with progress.quiet(getattr(args, "quiet", False)):  # also ACCEL_PROGRESS=0
                    code = args.func(args)
                sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
                return code
            except AccelError as exc:
                print(f"accel: error: {exc}", file=sys.stderr)
                return 2
            except process.Terminated:
                print("accel: terminated", file=sys.stderr)
                return 143
            except KeyboardInterrupt:
                print("accel: interrupted", file=sys.stderr)
                return 130
    except BrokenPipeError:
        # The reader went away (`accel info | head -1`). The Python docs' recipe (signal module,
        # "Note on SIGPIPE"): point stdout at /dev/null so the interpreter's last flush cannot
        # fail again, and exit quietly. 141 = 128 + SIGPIPE, what cat or grep report there: a
        # `set -o pipefail` script sees the output was cut short; 0 would claim that e.g.
        # `accel verify | head -1` passed while its verdict went unread.
        _stdout_to_devnull()
        return 141


def _stdout_to_devnull() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a non-file (pytest's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
