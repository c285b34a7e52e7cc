"""The argparse parser: the help formatter, one-line errors, and the commands in `accel --help`'s
order (each command's options live with its handler, in the module of its group)."""

import argparse

from accel.cli import build, c_hls, compress, model, rtl, run
from accel.cli.common import EXIT_CODES
from accel.core.errors import AccelError

EXAMPLES = {
    "train": ["accel train --out runs/mnist8",
              "accel train --dataset folder:shapes/ --size 64x64 --out runs/shapes",
              "accel train --model squeezenet-meta --base-e 64 --sr 0.25 --wbits 4 --abits 4 "
              "--out runs/meta4"],
    "export": ["accel export runs/mnist8 --out mnist8.onnx"],
    "eval": ["accel eval", "accel eval --model mnist8.onnx --images 1000 --json"],
    "verify": ["accel verify --levels golden,qonnx,c --images 100",
               "accel verify --model mnist8.onnx --levels torch,golden,qonnx,hls --images 16"],
    "c": ["accel c --out out/c", "accel c --model mnist8.onnx --out out/c --arm"],
    "hls": ["accel hls --out out/hls --csim 10",
            "accel hls --board pynq-z2 --config my_hls.yaml --out out/hls --vitis"],
    "rtl": ["accel rtl --out out/rtl --target-fps 2000",
            "accel rtl --model mnist8.onnx --fold fold.yaml --out out/rtl"],
    "sim": ["accel sim --images 8", "accel sim --rtl out/rtl --simulator icarus --images 2 --json"],
    "estimate": ["accel estimate --board pynq-z2 --layers",
                 "accel estimate --rtl out/rtl --board pynq-z2 --yosys --json"],
    "build": ["accel build --board zybo --until hls",
              "accel build --board pynq-z2 --backend rtl --fold fold.yaml --from rtl   (model "
              "and golden kept)",
              "accel build --config build.yaml --until golden   (flags override its keys)"],
    "compress": ["accel compress --out out/compressed",
                 "accel compress --sparsity 0.8 --share-bits 3 --epochs 2 --out out/c80",
                 "accel compress --structural squeezenet1_0,squeezenet1_1 --out out/sizes"],
    "run": ["accel run --board sim --images 16", "accel run --board zybo   (on the board)"],
    "info": ["accel info", "accel info --model mnist8.onnx"],
}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its help, unless the help states it (or there is nothing to
    show: flags, required options); paragraphs are wrapped but indented lines (examples, exit
    codes) are kept as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.required:
            return text + " (required)"
        if "default" in text or action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)

    def _fill_text(self, text, width, indent):
        fill = super()._fill_text
        return "\n\n".join(
            "\n".join(indent + line for line in para.splitlines())
            if any(line.startswith(" ") for line in para.splitlines())
            else fill(para, width, indent) for para in text.split("\n\n"))


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, exit 2 (argparse prints the usage block otherwise)
        raise AccelError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="accel", description="Quantized SqueezeNet -> verified Zynq accelerator. "
                "`accel COMMAND --help` shows a command's options, defaults and examples; the same "
                "steps from Python: import accel; m = accel.load(); m.predict(...) (README: API).",
                epilog=EXIT_CODES)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    # the order of `accel --help`'s command list
    for add in (model.add_train, model.add_export, model.add_eval_verify, c_hls.add_c,
                c_hls.add_hls, rtl.add_rtl, rtl.add_sim, rtl.add_estimate, build.add_build,
                compress.add_compress, run.add_run, model.add_info):
        add(sub)

    # a command's --help: its one-line help as description (unless it has one), then examples
    for name, cmd in sub.choices.items():
        cmd.description = cmd.description or next(
            a.help for a in sub._choices_actions if a.dest == name)
        cmd.epilog = "\n\n".join(filter(None, [cmd.epilog, "examples:\n" + "\n".join(
            "  " + e for e in EXAMPLES[name])]))
    return p
