"""Fuzz (issue 16, item 7): generated bad input through EVERY command.

Kinds, each from a table with fixed seeds: bad model files (empty, truncated, random bytes, bit
flips the reader refuses, wrong bit widths, ONNX that is no accel model, a folder, a missing
path), bad YAML files (fold.yaml, hls.yaml, board YAML via $ACCEL_BOARDS, build config), bad
image folders, bad output paths (a user's file or folder, '.', '..', a file where a folder is
needed and the reverse, a link) and other bad input paths (--rtl, --overlay, checkpoints, run
folders). For every case: exit code 2, stderr exactly one line starting `accel: error:`, no
traceback, and the file system unchanged outside the intended output (every file's type, size
and SHA-256 under the case's folder, the shared model files and the cache, before and after).

The cases run in-process (accel.cli.main) so hundreds take seconds; a handful run through a real
`python -m accel.cli`. Two pure, slow reads are memoized for speed, which changes no outcome:
the model-file reader (qonnx's shape inference, ~0.5 s a load; a result or AccelError per path
and content) and the MNIST pickle (2 s; its arrays made read-only, so a command that wrote into
them would fail loudly).
"""

import copy
import hashlib
import os
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from accel.cli import DEFAULT_MODEL, build_parser, main
from accel.core.errors import AccelError
from test_config import BOARD, BOARD_BAD, FOLD_BAD, HLS_BAD
from test_modelfile_validation import ACT, BIAS, WEIGHT, _with_param

BASE = DEFAULT_MODEL.read_bytes()
COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)


@dataclass
class Case:
    kind: str  # model | yaml | folder | out | path
    cmd: str
    name: str
    argv: list  # "{M}" -> the shared model folder; other paths are relative to the case folder
    setup: object = None  # setup(case folder): writes the bad input
    out: str | None = None  # the intended output (may appear); None: nothing may change at all
    env: dict = field(default_factory=dict)
    names: tuple = ()  # the error line names one of these (the bad input, not something else)

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.cmd}-{self.name}"


def spread(rows: list, commands: list, k: int, full: str | None = None, fewer=()) -> list:
    """(command, row) pairs: `full` takes every row, each other command the next k rows in turn
    (wrapping), so the rows are spread over the commands and each command gets a few; the
    commands in `fewer` (slow to reach the bad input) get k - 1."""
    pairs, i = [], 0
    for cmd in commands:
        if cmd == full:
            pairs += [(cmd, r) for r in rows]
            continue
        for _ in range(k - (cmd in fewer)):
            pairs.append((cmd, rows[i % len(rows)]))
            i += 1
    return pairs


# --- bad model files ------------------------------------------------------------------------------

def _random(seed: int, size: int) -> bytes:
    return np.random.default_rng(seed).bytes(size)


def _flipped(seed: int, flips: int = 4) -> bytes:
    rng = np.random.default_rng(seed)
    b = bytearray(BASE)
    for pos in rng.integers(0, len(b), flips):
        b[pos] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def _plain_onnx() -> bytes:
    """A valid ONNX file that is not an accel model file (one Relu, no metadata)."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, 28, 28])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 1, 28, 28])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    return helper.make_model(g).SerializeToString()


MODEL_FILES = {
    "empty": lambda: b"",
    "truncated-16": lambda: BASE[:16],
    "truncated-half": lambda: BASE[:len(BASE) // 2],
    "truncated-last-byte": lambda: BASE[:-1],
    "random-64": lambda: _random(0, 64),
    "random-4k": lambda: _random(1, 4096),
    "random-200k": lambda: _random(2, len(BASE)),
    "text": lambda: b"not a model\n" * 50,
    "png": lambda: _png(8, 8),
    "not-accel": _plain_onnx,
    "act-bits-0": lambda: _with_param(ACT, "bits", 0).SerializeToString(),
    "act-bits-33": lambda: _with_param(ACT, "bits", 33).SerializeToString(),
    "act-bits-2.5": lambda: _with_param(ACT, "bits", 2.5).SerializeToString(),
    "act-bits-nan": lambda: _with_param(ACT, "bits", np.nan).SerializeToString(),
    "weight-bits-16": lambda: _with_param(WEIGHT, "bits", 16).SerializeToString(),
    "bias-bits-64": lambda: _with_param(BIAS, "bits", 64).SerializeToString(),
    "bits-rank-2": lambda: _with_param(ACT, "bits", [[8]]).SerializeToString(),
    "weight-nan": lambda: _nan_weight(),
}
FLIPS = 3  # bit-flipped files per run: the first seeds whose flips the reader refuses
FLIP_SEEDS = range(40)


def _nan_weight() -> bytes:
    """conv1's float weights with one NaN (a bit flip in an exponent can make one)."""
    model = onnx.load_from_string(BASE)
    node = next(n for n in model.graph.node if n.name == WEIGHT)
    init = next(i for i in model.graph.initializer if i.name == node.input[0])
    w = onnx.numpy_helper.to_array(init).copy()
    w.flat[0] = np.nan
    init.CopyFrom(onnx.numpy_helper.from_array(w, init.name))
    return model.SerializeToString()


MODEL_RUNS = {  # the cheapest run of each command that takes --model
    "info": ["info"], "eval": ["eval", "--images", "1"],
    "verify": ["verify", "--levels", "golden", "--images", "1"],
    "c": ["c", "--out", "out"], "hls": ["hls", "--tb-images", "1", "--out", "out"],
    "rtl": ["rtl", "--out", "out"], "sim": ["sim", "--images", "1"], "estimate": ["estimate"],
    "build": ["build", "--board", "zybo", "--until", "model", "--out", "out"],
    "compress": ["compress", "--out", "out"], "run": ["run", "--board", "sim", "--images", "1"]}


def model_cases() -> list:
    names = [*MODEL_FILES, *(f"flip-{i}" for i in range(FLIPS)), "missing", "folder"]
    return [Case("model", cmd, name, [*MODEL_RUNS[cmd], "--model", f"{{M}}/{name}.onnx"],
                 out="out", names=(f"{name}.onnx",))
            for cmd, name in spread(names, list(MODEL_RUNS), 3, full="info")]


# --- bad YAML files -------------------------------------------------------------------------------

def _writer(name: str, text):
    def setup(root: Path):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return setup


BUILD_BAD = [  # (build.yaml, what the error line names)
    ("board: [zybo]", "board"), ("board: ../zybo", "board"), ("images: 0", "images"),
    ("images: 2.5", "images"), ("images: '32'", "images"), ("until: nowhere", "until"),
    ("backend: vhdl", "backend"), ("accuracy_images: -1", "accuracy_images"),
    ("nope: 1", "nope"), ("- a\n- b", "build.yaml"), ("board: zybo\nimages: [", "build.yaml"),
    ("board: zybo\nout: ..", "--out"), ("board: zybo\nmodel: missing.onnx", "missing.onnx"),
    ("board: zybo\nforce: maybe", "force"), ("board: zybo\ndataset: 5", "dataset"),
    ("", "--board"), (bytes(range(256)) * 4, "build.yaml"),
]
BOARD_RUNS = {"run": ["run", "--images", "1"], "hls": ["hls", "--tb-images", "1", "--out", "out"],
              "rtl": ["rtl", "--out", "out"], "estimate": ["estimate"],
              "build": ["build", "--until", "model", "--out", "out"]}
FOLD_RUNS = {"rtl": ["rtl", "--out", "out"], "estimate": ["estimate"],
             "sim": ["sim", "--images", "1"]}


def yaml_cases() -> list:
    cases = [Case("yaml", cmd, f"fold{FOLD_BAD.index(row)}", [*FOLD_RUNS[cmd], "--fold", "fold.yaml"],
                  _writer("fold.yaml", row[0]), out="out", names=("fold.yaml",))
             for cmd, row in spread(FOLD_BAD, list(FOLD_RUNS), 3, full="rtl")]
    cases += [Case("yaml", "hls", f"hls{i}", [*BOARD_RUNS["hls"], "--config", "hls.yaml"],
                   _writer("hls.yaml", text), out="out", names=("hls.yaml",))
              for i, (text, _) in enumerate(HLS_BAD)]
    boards = [(f"board{i}", "myboard", text) for i, (text, _) in enumerate(BOARD_BAD)]
    boards.append(("board-path", "../boards/myboard", BOARD))  # a name, never a path
    cases += [Case("yaml", cmd, name, [*BOARD_RUNS[cmd], "--board", board],
                   _writer("boards/myboard.yaml", text), out="out",
                   env={"ACCEL_BOARDS": "boards"}, names=("myboard",))
              for cmd, (name, board, text) in spread(boards, list(BOARD_RUNS), 3, full="run")]
    cases += [Case("yaml", "build", f"build{i}", ["build", "--config", "b/build.yaml"],
                   _writer("b/build.yaml", text), out="b/build", names=(word,))
              for i, (text, word) in enumerate(BUILD_BAD)]
    cases += [Case("yaml", cmd, f"{what}-{how}", argv + [path], setup, out="out", names=(path,))
              for cmd, what, argv in (("rtl", "fold", ["rtl", "--out", "out", "--fold"]),
                                      ("hls", "config", ["hls", "--out", "out", "--config"]),
                                      ("build", "config", ["build", "--out", "out", "--config"]))
              for how, path, setup in (("missing", "no.yaml", None),
                                       ("folder", "d.yaml", lambda r: (r / "d.yaml").mkdir()))]
    return cases


# --- bad image folders ----------------------------------------------------------------------------

def _png(w: int, h: int, body: bool = True) -> bytes:
    """A grey PNG of w x h (zero pixels); body=False: the header only (a decompression bomb's)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    idat = chunk(b"IDAT", zlib.compress(b"\0" * ((w + 1) * h))) if body else b""
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + chunk(b"IEND", b"")


def _good_classes(root: Path, classes=("a", "b")):
    for c in classes:
        (root / "ds" / c).mkdir(parents=True, exist_ok=True)
        (root / "ds" / c / "0.png").write_bytes(_png(8, 8))


def _folder(extra):
    def setup(root: Path):
        _good_classes(root)
        extra(root / "ds")
    return setup


FOLDERS = {  # name: (setup, --dataset)
    "missing": (None, "folder:ds"),
    "no-path": (None, "folder:"),
    "a-file": (lambda r: (r / "ds").write_text("x"), "folder:ds"),
    "empty": (lambda r: (r / "ds").mkdir(), "folder:ds"),
    "one-class": (lambda r: _good_classes(r, ("a",)), "folder:ds"),
    "class-without-images": (_folder(lambda d: ((d / "c").mkdir(),
                                                (d / "c" / "x.txt").write_text(""))), "folder:ds"),
    "corrupt-png": (_folder(lambda d: (d / "b" / "bad.png").write_bytes(b"not a png")), "folder:ds"),
    "zero-byte-jpg": (_folder(lambda d: (d / "b" / "z.jpg").write_bytes(b"")), "folder:ds"),
    "truncated-png": (_folder(lambda d: (d / "b" / "t.png").write_bytes(_png(64, 64)[:60])),
                      "folder:ds"),
    "bomb-header": (_folder(lambda d: (d / "b" / "huge.png").write_bytes(
        _png(60000, 60000, False))), "folder:ds"),
    "folder-named-png": (_folder(lambda d: (d / "b" / "x.png").mkdir()), "folder:ds"),
    "image-link-loop": (_folder(lambda d: (d / "b" / "loop.png").symlink_to("loop.png")),
                        "folder:ds"),
    "class-link-loop": (_folder(lambda d: (d / "c").symlink_to("c")), "folder:ds"),
    "dangling-image": (_folder(lambda d: (d / "b" / "gone.png").symlink_to("nowhere.png")),
                       "folder:ds"),
}
FOLDER_RUNS = {"eval": ["eval", "--images", "1"],
               "verify": ["verify", "--levels", "golden", "--images", "1"],
               "build": ["build", "--board", "zybo", "--until", "golden", "--images", "1",
                         "--accuracy-images", "1", "--out", "out"],
               "train": ["train", "--epochs", "1", "--quiet", "--out", "out"]}


def folder_cases() -> list:
    return [Case("folder", cmd, name, [*FOLDER_RUNS[cmd], "--dataset", FOLDERS[name][1]],
                 FOLDERS[name][0], out="out", names=("ds", "folder:"))
            for cmd, name in spread(list(FOLDERS), list(FOLDER_RUNS), 3, full="eval",
                                    fewer=("build",))]  # build: its model stage and report first


# --- bad output paths -----------------------------------------------------------------------------

def _user_files(root: Path):
    (root / "f.txt").write_text("a user's file")
    (root / "f.onnx").write_text("a user's file")
    for d in ("mine", "x.onnx", "bm/zybo"):
        (root / d).mkdir(parents=True)
        (root / d / "notes.txt").write_text("keep me")
    (root / "target").mkdir()
    (root / "link").symlink_to("target")
    (root / "bl").mkdir()
    (root / "bl" / "zybo").symlink_to("../target")
    (root / "sub").mkdir()
    (root / "b").mkdir()
    (root / "b" / "zybo").write_text("a file where build writes a folder")


# name: --out of a folder writer, of export (it writes a file), of build (it writes OUT/BOARD)
OUT_PATHS = {
    "existing-file": ("f.txt", "f.onnx", "b"),  # folder writers: a file where a folder goes
    "existing-folder": ("mine", "x.onnx", "bm"),  # export: a folder where a file goes
    "dot": (".", ".", "."),
    "dotdot": ("..", "..", ".."),
    "inside-dotdot": ("sub/..", "sub/..", "sub/.."),
    "file-as-parent": ("f.txt/out", "f.txt/m.onnx", "f.txt"),
    "file-as-grandparent": ("f.txt/a/b", "f.txt/a/m.onnx", "f.txt/a"),
    "link": ("link", "link", "bl"),
}
OUT_RUNS = {"compress": ["compress"], "export": ["export", str(DEFAULT_MODEL.with_suffix(".pt"))],
            "c": ["c"], "hls": ["hls", "--tb-images", "1"], "rtl": ["rtl"],
            "train": ["train", "--epochs", "1", "--quiet"],
            "build": ["build", "--board", "zybo", "--until", "model"]}


def out_cases() -> list:
    cases = []
    writers = [c for c in OUT_RUNS if c != "export"]  # export (a file writer) takes every row
    for cmd, name in spread(list(OUT_PATHS), writers, 3, full="compress") + \
            [("export", n) for n in OUT_PATHS]:
        out = OUT_PATHS[name][{"export": 1, "build": 2}.get(cmd, 0)]
        cases.append(Case("out", cmd, name, [*OUT_RUNS[cmd], "--out", out], _user_files,
                          names=(out,)))
    return cases


# --- other bad input paths ------------------------------------------------------------------------

def _rtl_dirs(root: Path):
    (root / "f.txt").write_text("x")
    (root / "empty").mkdir()
    (root / "junk").mkdir()
    (root / "junk" / "accel_rtl.json").write_bytes(_random(3, 300))
    (root / "hollow").mkdir()
    (root / "hollow" / "accel_rtl.json").write_text("{}")


def _run_dirs(root: Path):
    (root / "f.txt").write_text("x")
    (root / "empty").mkdir()
    (root / "junk").mkdir()
    (root / "junk" / "config.json").write_bytes(_random(4, 200))
    (root / "junk" / "checkpoint.pt").write_bytes(_random(5, 2000))
    (root / "rnd.pt").write_bytes(_random(6, 3000))
    (root / "cut.pt").write_bytes(DEFAULT_MODEL.with_suffix(".pt").read_bytes()[:5000])
    (root / "zero.pt").write_bytes(b"")


def path_cases() -> list:
    cases = []
    for cmd, argv in (("sim", ["sim", "--images", "1", "--rtl"]), ("estimate", ["estimate", "--rtl"]),
                      ("run", ["run", "--board", "sim", "--images", "1", "--overlay"])):
        for p in ("missing", "f.txt", "empty", "junk", "hollow"):
            cases.append(Case("path", cmd, f"rtl-{p}", [*argv, p], _rtl_dirs, names=(p,)))
    for p in ("missing", "f.txt", "empty", "junk", "rnd.pt", "cut.pt", "zero.pt"):
        cases.append(Case("path", "export", f"run-{p}", ["export", p, "--out", "m.onnx"],
                          _run_dirs, out="m.onnx", names=(p,)))
    for p in ("missing", "rnd.pt", "cut.pt"):
        cases.append(Case("path", "train", f"init-{p}", ["train", "--epochs", "1", "--quiet",
                                                         "--init", p, "--out", "out"],
                          _run_dirs, out="out", names=(p,)))
    for p in ("missing", "rnd.pt", "cut.pt", "zero.pt", "empty"):
        cases.append(Case("path", "verify", f"checkpoint-{p}",
                          ["verify", "--levels", "torch,golden", "--images", "1", "--checkpoint", p],
                          _run_dirs, names=(p,)))
    cases += [Case("path", "train", f"resume-{p}", ["train", "--resume", "--quiet", "--out", p],
                   _run_dirs, names=(p,)) for p in ("empty", "junk", "f.txt", "new")]
    cases += [Case("path", "verify", "levels-" + lv, ["verify", "--levels", lv, "--images", "1"],
                   names=("level",)) for lv in ("nope", ",", "golden,c-armv9")]
    cases += [Case("path", "compress", "layer-sparsity-" + ls,
                   ["compress", "--out", "out", "--layer-sparsity", ls], names=("--layer-sparsity",))
              for ls in ("conv1", "nope=0.5", "conv1=nan", "conv1=0.5=0.6", "*=1.5")]
    cases += [Case("path", "info", "model-" + p, ["info", "--model", p], _run_dirs, names=(p,))
              for p in ("empty", "f.txt", "missing.onnx")]
    return cases


CASES = model_cases() + yaml_cases() + folder_cases() + out_cases() + path_cases()


def test_every_command_is_fuzzed_with_each_kind_it_takes():
    assert {c.cmd for c in CASES} == set(COMMANDS)
    kinds = {k: {c.cmd for c in CASES if c.kind == k} for k in ("model", "yaml", "folder", "out")}
    assert kinds["model"] == set(MODEL_RUNS) and kinds["folder"] == set(FOLDER_RUNS)
    assert kinds["out"] == set(OUT_RUNS) and set(FOLD_RUNS) | set(BOARD_RUNS) <= kinds["yaml"]
    for kind, runs in (("model", MODEL_RUNS), ("folder", FOLDER_RUNS), ("out", OUT_RUNS)):
        for cmd in runs:  # a few cases each
            assert sum(c.cmd == cmd and c.kind == kind for c in CASES) >= 2, (kind, cmd)
    names = {c.name for c in CASES}  # every row of every table is used
    assert {*MODEL_FILES, *FOLDERS, *OUT_PATHS} <= names
    assert {f"fold{i}" for i in range(len(FOLD_BAD))} | {f"board{i}" for i in range(len(BOARD_BAD))} \
        | {f"hls{i}" for i in range(len(HLS_BAD))} | {f"build{i}" for i in range(len(BUILD_BAD))} \
        <= names
    assert len({c.id for c in CASES}) == len(CASES)


# --- the runner -----------------------------------------------------------------------------------

def snapshot(*roots: Path, skip: Path | None = None, cache: Path | None = None) -> dict:
    """{path: (type, size, sha256 or link target)} of everything under roots (links not followed),
    but for the folders of the cache (a cache may lay out its empty folders early; a file in it
    counts like any other)."""
    out = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            for name in dirs + files:
                p = Path(dirpath) / name
                if skip is not None and (p == skip or skip in p.parents):
                    continue
                if p.is_symlink():
                    out[str(p)] = ("link", os.readlink(p))
                elif p.is_dir():
                    if cache is None or not (p == cache or cache in p.parents):
                        out[str(p)] = ("dir",)
                else:
                    data = p.read_bytes()
                    out[str(p)] = ("file", len(data), hashlib.sha256(data).hexdigest())
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The shared folder of bad model files; the flips kept are the first the reader refuses."""
    from accel.core import modelfile

    folder = tmp_path_factory.mktemp("models")
    for name, make in MODEL_FILES.items():
        (folder / f"{name}.onnx").write_bytes(make())
    (folder / "folder.onnx").mkdir()
    kept, accepted = 0, None
    for seed in FLIP_SEEDS:
        if kept == FLIPS and accepted:
            break
        path = folder / (f"flip-{kept}.onnx" if kept < FLIPS else "accepted-flip.onnx")
        path.write_bytes(_flipped(seed))
        try:
            modelfile.load_model(path)  # memoized: the commands below reuse the outcome
        except AccelError:
            if kept < FLIPS:
                kept += 1
            else:
                path.unlink()
            continue
        if accepted:  # a changed weight or name: a valid model, not bad input
            path.unlink()
        else:
            accepted = path.rename(folder / "accepted-flip.onnx")
    assert kept == FLIPS and accepted
    return folder


@pytest.fixture(scope="module", autouse=True)
def memoized_reads():
    """See the module docstring: the same outcome, computed once per path and content."""
    from accel import data
    from accel.core import modelfile

    real_load, real_mnist = modelfile.load_model, data._load_mnist
    memo, mnist = {}, []

    def load_model(path):
        path = Path(path)
        try:
            key = (str(path), hashlib.sha256(path.read_bytes()).hexdigest())
        except OSError:
            return real_load(path)
        if key not in memo:
            try:
                memo[key] = real_load(path)
            except AccelError as exc:
                memo[key] = exc
        if isinstance(memo[key], AccelError):
            raise AccelError(str(memo[key]))
        return copy.deepcopy(memo[key])

    def load_mnist():
        if not mnist:
            splits = real_mnist()
            for s in splits:
                s.x.setflags(write=False)
                s.y.setflags(write=False)
            mnist.append(splits)
        return mnist[0]

    mp = pytest.MonkeyPatch()
    mp.setattr(modelfile, "load_model", load_model)
    for name in ("accel.flow.build", "accel.rtl.generate", "accel.hls.generate"):
        mp.setattr(f"{name}.load_model", load_model, raising=False)
    mp.setattr(data, "_load_mnist", load_mnist)
    yield
    mp.undo()


def _prepare(case: Case, root: Path, models: Path, monkeypatch) -> list:
    monkeypatch.chdir(root)
    monkeypatch.setenv("ACCEL_CACHE", str(root / "cache"))
    monkeypatch.setenv("ACCEL_PROGRESS", "0")  # progress lines are not errors; off, not counted
    for k, v in case.env.items():
        monkeypatch.setenv(k, str(root / v) if k == "ACCEL_BOARDS" else v)
    if case.setup:
        case.setup(root)
    return [a.replace("{M}", str(models)) for a in case.argv]


def _check(case: Case, code, err: str, before: dict, after: dict):
    assert "Traceback" not in err, err
    assert code == 2, f"exit {code}: {err}"
    assert err.count("\n") == 1 and err.endswith("\n") and err.startswith("accel: error: "), err
    assert not case.names or any(n in err for n in case.names), (case.names, err)
    changed = sorted(set(before.items()) ^ set(after.items()))
    assert not changed, f"file system changed outside --out: {changed[:6]}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, models, monkeypatch, capfd):
    root = tmp_path / "case"
    root.mkdir()
    argv = _prepare(case, root, models, monkeypatch)
    skip = root / case.out if case.out else None
    before = snapshot(root, models, skip=skip, cache=root / "cache")
    capfd.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own exits (--help) only; nothing else may exit
        code = exc.code
    _, err = capfd.readouterr()
    _check(case, code, err, before, snapshot(root, models, skip=skip, cache=root / "cache"))


def test_a_flip_the_reader_accepts_is_a_valid_model(models, capfd):
    """A bit flip kept out of the bad-input cases (it changed a weight or a name) loads."""
    assert main(["info", "--model", str(models / "accepted-flip.onnx")]) == 0, \
        capfd.readouterr().err


# one case of each kind as a user runs it: a real process, where warnings and logging reach stderr
SUBPROCESS = [next(c for c in CASES if (c.kind, c.cmd) == kc).id for kc in (
    ("model", "info"), ("folder", "eval"), ("out", "c"))]


@pytest.mark.parametrize("case_id", SUBPROCESS)
def test_bad_input_through_a_real_process(case_id, tmp_path, models, monkeypatch):
    """The same cases as a user runs them: nothing else on stderr (warnings, logging), exit 2."""
    case = next(c for c in CASES if c.id == case_id)
    root = tmp_path / "case"
    root.mkdir()
    argv = _prepare(case, root, models, monkeypatch)
    skip = root / case.out if case.out else None
    before = snapshot(root, models, skip=skip, cache=root / "cache")
    done = subprocess.run([sys.executable, "-m", "accel.cli", *argv], cwd=root,
                          capture_output=True, text=True, timeout=300)
    _check(case, done.returncode, done.stderr, before,
           snapshot(root, models, skip=skip, cache=root / "cache"))


def test_a_reader_that_goes_away_is_no_traceback(tmp_path):
    """`accel info | head -1`: stdout's reader is gone before accel writes (the pipe's read end
    is closed first, so the write fails every time): exit 141 (128 + SIGPIPE, as cat or grep
    report), nothing on stderr."""
    r, w = os.pipe()
    os.close(r)
    try:
        done = subprocess.run([sys.executable, "-m", "accel.cli", "info"], stdout=w,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=300)
    finally:
        os.close(w)
    assert done.returncode == 141 and done.stderr == "", done.stderr


def test_the_package_and_its_default_model_are_untouched():
    """Last in this file (pytest keeps file order): nothing above wrote into the package."""
    assert DEFAULT_MODEL.read_bytes() == BASE
