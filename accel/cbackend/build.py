"""Write, compile and run the generated C: the `accel c` stage and the `c`/`c-arm` verify levels."""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np

from accel.core import arith, atomic, process
from accel.cbackend.ctype import NUMPY_DTYPE
from accel.cbackend.demo import ARM_BIN, ARM_CC, ARM_FLAGS, HOST_BIN, HOST_CC, HOST_FLAGS, SOURCES
from accel.cbackend.generate import source_files
from accel.cbackend.plan import plan
from accel.core.errors import AccelError
from accel.core.ir import QuantModel

QEMU = "qemu-arm"
_INSTALL = {HOST_CC: "gcc", ARM_CC: "gcc-arm-linux-gnueabihf", QEMU: "qemu-user"}


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise AccelError(f"{tool} not found: install it (Debian: apt-get install -y "
                         f"{_INSTALL.get(tool, tool)})")
    return path


def compile_demo(src: Path, arm: bool = False, trace: bool = False, out: str | None = None) -> Path:
    """Compile the demo in directory src (host or static Cortex-A9); returns the binary's path.
    Compiler warnings are errors here: generated code must be clean."""
    cc, flags = (ARM_CC, ARM_FLAGS) if arm else (HOST_CC, HOST_FLAGS)
    name = out or ((ARM_BIN if arm else HOST_BIN) + ("_trace" if trace else ""))
    defines = ["-DACCEL_TRACE"] if trace else []
    cmd = [_need(cc), *flags, "-Werror", *defines, "-o", name, *SOURCES]
    proc = process.run(cmd, cwd=src, capture_output=True, text=True)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["(no message)"])[0]
        raise AccelError(f"compiling the generated C failed ({cc}): {first}")
    return Path(src) / name


def write(qm: QuantModel, out_dir, arm: bool = False, build: bool = True,
          force: bool = False) -> Path:
    """Write the C sources (and the host demo binary, and with arm=True the Cortex-A9 one) to
    out_dir atomically: everything is made in a temporary directory beside it, then renamed.
    An existing out_dir is replaced only when it is an `accel c` output or force is given."""
    files = source_files(qm)
    with atomic.output(out_dir, "c", force) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
        if build:
            compile_demo(tmp)
        if arm:
            compile_demo(tmp, arm=True)
    return Path(out_dir)


_CACHE: dict = {}
_ROOT: list = []


def _build_dir(qm: QuantModel) -> tuple[Path, str]:
    """A per-process build directory for the model's sources, keyed by their hash."""
    files = source_files(qm)
    key = hashlib.sha256("".join(files[k] for k in sorted(files)).encode()).hexdigest()[:16]
    if not _ROOT:
        _ROOT.append(Path(tempfile.mkdtemp(prefix="accel-c-")))
        atexit.register(shutil.rmtree, _ROOT[0], True)
    d = _ROOT[0] / key
    if not d.exists():
        d.mkdir()
        for name, text in files.items():
            (d / name).write_text(text)
    return d, key


def project_for(qm: QuantModel) -> Path:
    """The model's C sources, written once per process (keyed by their content)."""
    return _build_dir(qm)[0]


def binary(qm: QuantModel, arm: bool = False, trace: bool = False) -> Path:
    """The compiled demo for qm (compiled once per process and model)."""
    d, key = _build_dir(qm)
    if (key, arm, trace) not in _CACHE:
        _CACHE[key, arm, trace] = compile_demo(d, arm=arm, trace=trace)
    return _CACHE[key, arm, trace]


def _images_bytes(qm: QuantModel, x, layout: str) -> bytes:
    x = qm.check_input(x)
    if x.min(initial=0) < 0 or x.max(initial=0) > 255:
        raise AccelError("the C backend takes uint8 pixels 0..255")
    if layout == "nhwc":
        x = x.transpose(0, 2, 3, 1)
    elif layout != "nchw":
        raise AccelError(f"unknown layout '{layout}': nchw or nhwc")
    return np.ascontiguousarray(x, dtype=np.uint8).tobytes()


def run(qm: QuantModel, x, arm: bool = False, trace: bool = False, layout: str = "nchw",
        timeout: float | None = None):
    """Run the C demo on images x (N, C, H, W) — on the host, or the Cortex-A9 binary under
    qemu-arm. Returns (scores int64 (N, classes), classes (N,)), and with trace=True also
    {layer name: int64 codes (N, C, H, W)}."""
    data = _images_bytes(qm, x, layout)
    n = len(data) // int(np.prod(qm.input_shape))
    exe = binary(qm, arm=arm, trace=trace)
    cmd = ([_need(QEMU)] if arm else []) + [str(exe), "-l", layout]
    with tempfile.TemporaryDirectory(prefix="accel-c-run-") as tdir:
        if trace:
            cmd += ["-t", tdir]
        proc = process.run(cmd, input=data, capture_output=True, timeout=timeout)
        if proc.returncode != 0:
            raise AccelError(f"the C demo failed (exit {proc.returncode}): "
                             f"{proc.stderr.decode(errors='replace').strip()[:300]}")
        p = plan(qm)
        rows = np.array(proc.stdout.split(), dtype=np.int64).reshape(n, -1) if n else \
            np.zeros((0, 2 + p.output.size), np.int64)
        if rows.shape[1] != 2 + p.output.size or not np.array_equal(rows[:, 0], np.arange(n)):
            raise AccelError("the C demo's output is malformed")
        scores, classes = rows[:, 2:], rows[:, 1]
        if not trace:
            return scores, classes
        layers = {}
        for k, layer in enumerate(qm.layers):
            t = p.tensors[layer.output]
            codes = np.fromfile(Path(tdir) / f"L{k}.bin", dtype=NUMPY_DTYPE[t.ctype])
            if codes.size != n * t.size:
                raise AccelError(f"the C trace of {layer.name} has {codes.size} codes, "
                                 f"expected {n * t.size}")
            layers[layer.name] = codes.astype(np.int64).reshape(n, *t.shape)
        return scores, classes, layers


def trace(qm: QuantModel, x, arm: bool = False) -> tuple[np.ndarray, dict]:
    """The verify levels `c` (host gcc) and `c-arm` (Cortex-A9 binary under qemu-arm): final int64
    codes (N, classes) and every layer's codes, from the trace build."""
    scores, classes, layers = run(qm, x, arm=arm, trace=True)
    # The demo's class index must be the golden rule (first maximum) applied to its own scores.
    if len(scores) and not np.array_equal(classes, scores.argmax(axis=1)):
        raise AccelError("the C demo's class indices disagree with its scores")
    return arith.as_int(scores), layers
