"""C simulation of a generated HLS project with g++ (no vendor tool), cached by content hash.

The project's build_csim.sh compiles hls4ml's network, hls4ml's trace bridge, accel_top (the AXI
wrapper) and accel's ctypes entry points into one library. A compile costs 25-80 s, so the library
is kept under $ACCEL_CACHE/hls/<sha256 of the sources and compiler> (default ~/.cache/accel): the
same project, wherever it lives, compiles once. Two processes that need the same library at once
(two builds, the two pytest workers) compile it once: the second waits for the first's (a lock
per key, under $ACCEL_CACHE/locks).

Final outputs go through accel_top exactly as the DMA drives it (packed words, TLAST checked);
per-layer outputs come from hls4ml's trace hooks (save_layer_output, C-sim only).
"""

import ctypes
import fcntl
import json
import os
import shlex
import subprocess
import time
from pathlib import Path

import numpy as np

from accel.core import atomic, cache, process, progress, stream
from accel.core.errors import AccelError

LIB = "libaccel_csim.so"
TB = "accel_tb"
# what the library is built from (tb_data, reports and logs do not change it)
_SOURCES = ("firmware", "csim", "accel_top.h", "accel_top.cpp", "accel_bridge.cpp", "accel_tb.cpp",
            "build_csim.sh")


def _compiler_id() -> str:
    """The compiler's version line. CXX may hold a launcher before the compiler ("ccache g++"):
    build_csim.sh splits it into words the same way, and the key is the compiler's."""
    cxx = os.environ.get("CXX", "g++")
    try:
        return process.run([*shlex.split(cxx), "--version"], capture_output=True, text=True,
                           check=True).stdout.splitlines()[0]
    except (OSError, ValueError, IndexError, subprocess.CalledProcessError):
        raise AccelError(f"no C++ compiler '{cxx}' for the C simulation: install g++ "
                         "(apt-get install g++)") from None


def source_hash(project: Path) -> str:
    return cache.key(_compiler_id(), cache.tree_hash(project, *_SOURCES))


def build(project, log=None) -> tuple[Path, dict]:
    """The compiled C-sim directory for a project (LIB and TB inside), from the cache when the
    sources are unchanged. Returns (directory, {"cached": bool, "compile_seconds": float})."""
    project = Path(project)
    if not (project / "build_csim.sh").is_file():
        raise AccelError(f"{project} is not an accel HLS project (no build_csim.sh): run "
                         "`accel hls --model M --out DIR` first")
    key = source_hash(project)
    done = cache.folder("hls") / key  # what compiles killed before us left is swept there
    if _complete(done):
        return done, {"cached": True, "compile_seconds": 0.0, "key": key}
    locks = cache.cache_root() / "locks"  # not in hls/: that folder holds only the libraries
    try:
        locks.mkdir(parents=True, exist_ok=True)
        lock = open(locks / f"hls-{key}.lock", "w")
    except OSError as exc:
        raise AccelError(f"cannot write the C-sim cache {locks}: {exc.strerror}") from None
    with lock:
        with progress.task("C-sim compile (g++)"):
            # another process compiling the same sources: wait for its library (the lock goes
            # with its process, however it ends)
            fcntl.flock(lock, fcntl.LOCK_EX)
            if _complete(done):
                return done, {"cached": True, "compile_seconds": 0.0, "key": key}
            tmp = atomic.make_temp(done)
            t0 = time.time()
            try:
                proc = process.run(["bash", str(project / "build_csim.sh"), str(tmp)],
                                   capture_output=True, text=True)
                if proc.returncode != 0:
                    tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
                    raise AccelError(f"C-sim compile of {project} failed (g++):\n  " +
                                     "\n  ".join(tail))
                seconds = time.time() - t0
                (tmp / "build.json").write_text(json.dumps({"project": str(project),
                                                            "compile_seconds": round(seconds, 1)}))
                atomic.publish(tmp, done)  # a process without the lock may have finished first
            finally:
                atomic.discard(tmp)
    return done, {"cached": False, "compile_seconds": seconds, "key": key}


def _complete(done: Path) -> bool:
    return (done / LIB).is_file() and (done / TB).is_file()


class _Trace(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p)]


class CSim:
    """A compiled project: run(x) -> (final codes (N, outputs), {layer: codes NCHW})."""

    _loaded: dict = {}

    def __init__(self, project):
        self.project = Path(project)
        meta_path = self.project / "accel_hls.json"
        if not meta_path.is_file():
            raise AccelError(f"{self.project} is not an accel HLS project (no accel_hls.json)")
        self.meta = json.loads(meta_path.read_text())
        self.dir, self.build_info = build(self.project)
        path = str(self.dir / LIB)
        if path not in CSim._loaded:
            CSim._loaded[path] = ctypes.CDLL(path)
        self.lib = CSim._loaded[path]
        sizes = (ctypes.c_int * 3)()
        self.lib.accel_csim_sizes(sizes)
        self.in_values, self.out_values = sizes[0], sizes[1]
        io_ = self.meta["io"]
        if (self.in_values, self.out_values) != (io_["input"]["values"], io_["output"]["values"]):
            raise AccelError(f"{self.project}: compiled sizes disagree with accel_hls.json: "
                             "regenerate the project with `accel hls`")
        self.lib.accel_csim_run.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        self.lib.accel_csim_run.restype = ctypes.c_int

    def _nhwc(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 4 or not np.issubdtype(x.dtype, np.integer) or (
                x.size and (x.min() < 0 or x.max() > 255)):
            raise AccelError("the C-sim takes uint8 pixel codes shaped (N, C, H, W)")
        n, c, h, w = x.shape
        want = self.meta["io"]["input"]["shape_nhwc"]
        if [h, w, c] != want[1:]:
            raise AccelError(f"images are C,H,W = {(c, h, w)}, the HLS project expects "
                             f"{(want[3], want[1], want[2])}")
        return stream.nhwc_bytes(x)

    def _final(self, codes: np.ndarray) -> np.ndarray:
        return stream.outputs_nchw(codes, self.meta["io"]["output"]).astype(np.int64)

    def run(self, x: np.ndarray, trace: bool = False):
        """Images (N, C, H, W) uint8 -> final codes (N, outputs) and, with trace, per-layer codes."""
        px = self._nhwc(x)
        n = len(px)
        out = np.zeros((n, self.out_values), dtype=np.int32)
        if not trace:
            self._call(n, px, out)
            return self._final(out), {}
        lib = self.lib
        lib.allocate_trace_storage.argtypes = [ctypes.c_size_t]
        lib.collect_trace_output.argtypes = [ctypes.POINTER(_Trace)]
        rows = {r["hls"]: r for r in self.meta["layers"]}
        traces = {r["name"]: np.zeros((n, *r["shape_chw"]), dtype=np.int64) for r in rows.values()}
        buf = (_Trace * (len(rows) + 64))()  # room for every map entry the library may hold
        lib.allocate_trace_storage(ctypes.sizeof(ctypes.c_double))
        seen = set()
        try:
            for i in range(n):
                self._call(1, px[i:i + 1], out[i:i + 1])
                lib.collect_trace_output(buf)
                for t in buf:
                    if not t.name:
                        break
                    row = rows[t.name.decode()]
                    seen.add(row["name"])
                    c, h, w = row["shape_chw"]
                    vals = np.ctypeslib.as_array(ctypes.cast(t.data, ctypes.POINTER(ctypes.c_double)),
                                                 shape=(h * w * c,))
                    traces[row["name"]][i] = _codes(vals, row["out"]["frac"]).reshape(h, w, c).transpose(2, 0, 1)
        finally:
            lib.free_trace_storage()
        missing = set(traces) - seen
        if n and missing:
            raise AccelError(f"{self.project}: the C-sim traced no output for {sorted(missing)[0]}:"
                             " regenerate the project with `accel hls`")
        return self._final(out), traces

    def _call(self, n: int, px: np.ndarray, out: np.ndarray) -> None:
        status = self.lib.accel_csim_run(n, px.ctypes.data, out.ctypes.data)
        if status == -1:
            raise AccelError(f"{self.project}: accel_top set TLAST on the wrong output word")
        if status != 0:
            raise AccelError(f"{self.project}: accel_top read or wrote the wrong number of words")

    def testbench(self) -> tuple[int, str]:
        """Run the compiled accel_tb on the project's tb_data (what Vitis csim/cosim runs)."""
        proc = process.run([str(self.dir / TB), str(self.project / "tb_data")],
                           capture_output=True, text=True)
        return proc.returncode, proc.stdout.strip()


def _codes(values: np.ndarray, frac: int) -> np.ndarray:
    """Traced values (exact doubles) -> integer codes; off-grid values become a sentinel that
    mismatches any golden code."""
    scaled = values * 2.0 ** frac
    codes = np.round(scaled)
    return np.where(scaled == codes, codes, np.iinfo(np.int64).min).astype(np.int64)
