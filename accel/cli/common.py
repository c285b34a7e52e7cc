"""What several commands share: the --model help, the exit-code table, the model a command loads
and the argparse types of the CLI's own number formats."""

import argparse
from pathlib import Path

from accel.core.modelfile import DEFAULT_MODEL

MODEL_HELP = "model file (default: the embedded tiny-mnist model)"

EXIT_CODES = """exit codes:
  0    done (verify, sim, run, hls --csim: 0 mismatches vs the golden model; estimate: it fits)
  1    a verification found mismatches (estimate: the design does not fit the board;
       compress: the result lost more accuracy than --max-drop, kept in OUT.rejected)
  2    bad input: a one-line error, no traceback
  3    accel build: a vendor tool (vitis_hls, vivado) is missing; every stage that can run here
       ran and the commands to run on a machine with the tools were printed
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM): temporaries are removed either way
  141  the reader of the output went away (`accel info | head -1`): the rest is not printed"""


def _size(text: str) -> tuple[int, int]:
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"bad size '{text}': use HxW, e.g. 28x28")
    return tuple(parts)


def _model_path(args) -> Path:
    return Path(args.model) if args.model else DEFAULT_MODEL


def _load(args):
    from accel.api import Model, rtl_model

    model = args.model
    if model is None and getattr(args, "rtl", None):  # an RTL project knows its model
        model = rtl_model(args.rtl)
    return Model.load(model)


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or not all(0 <= p <= 1 for p in parts) or abs(sum(parts) - 1) > 1e-6 \
            or parts[0] == 0:
        raise argparse.ArgumentTypeError(f"bad split '{text}': give TRAIN,VAL,TEST fractions "
                                         "adding up to 1, e.g. 0.8,0.1,0.1")
    return parts
