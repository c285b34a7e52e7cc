"""Resources of a generated RTL project without Vivado: yosys `synth_xilinx -family xc7` on the
network, `stat -tech xilinx`, and the cell counts folded into the four figures a Zynq part is sized
by (LUT, FF, DSP48E1, RAMB36) against the board's capacity. An estimate: Vivado's optimisation,
packing and the DMA/interconnect around the accelerator will move the numbers.

LUT counts LUT1..LUT6 plus the LUTs inside distributed RAMs and shift registers; a RAMB18E1 counts
as half a RAMB36E1. synth_xilinx keeps the hierarchy, so the same run also gives each layer's share
(its instances: window generator, MVAU or pool, fork and branch FIFO; the top's own cells are
"glue"). Results are cached by the Verilog and ROM contents (yosys takes minutes on a whole net).
"""

import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from accel.core import boards, process, progress
from accel.core.errors import AccelError

# LUTs per distributed-RAM / shift-register primitive (7-series CLB slices).
LUTRAM = {"RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM32X1D": 2, "RAM64X1D": 2,
          "RAM128X1D": 4, "RAM256X1S": 4, "RAM128X1S": 2, "RAM64X1S": 1, "RAM32X1S": 1,
          "RAM16X1D": 2, "RAM16X1S": 1, "SRL16E": 1, "SRLC32E": 1, "SRLC16E": 1}
FLOPS = ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE")


INSTANCES = "yosys_instances.il"  # the top's cells (instance name -> module), for the breakdown
NETLIST = "yosys_netlist.json"  # the mapped netlist, flattened, for the timing proxy (moved into
# the cache gzipped: a change to accel.rtl.timing re-reads it there instead of rerunning yosys)


def script(manifest: dict) -> str:
    files = " ".join(Path(f).name for f in manifest["files"])
    # -defer: modules are elaborated with the top's parameters only (the library's default ROM
    # file names do not exist).
    return (f"read_verilog -defer {files}\n"
            f"synth_xilinx -family xc7 -top {manifest['top']} -noiopad\n"
            "stat -tech xilinx\n"
            f"select -module {manifest['top']}\n"
            f"tee -q -o ../{INSTANCES} dump c:*\n"  # run in rtl/: beside yosys.log
            # for accel.rtl.timing: flat, only the primitives used, no source locations (~1/50)
            "select -clear\nsetattr -mod -unset keep_hierarchy\nflatten\n"
            f"hierarchy -purge_lib -top {manifest['top']}\n"
            f"attrmap -remove src\nwrite_json ../{NETLIST}\n")


class LogWatch:
    """What a running yosys is doing, from its log as it grows (polled by accel.core.progress):
    synth_xilinx's step and the pass it runs. The number of steps is learned from the last full
    run of the same yosys version (`steps`: version -> count), so later runs get a bar."""

    HEADER = re.compile(r"^(\d+)((?:\.\d+)*)\. (.*)$")

    def __init__(self, path: Path, steps: dict):
        self.tail, self.steps = progress.Tail(path), steps
        self.synth = None  # synth_xilinx's top-level number in this log
        self.version = None

    def __call__(self) -> dict:
        got: dict = {}
        for line in self.tail.lines():
            if self.version is None and line.startswith(" Yosys "):
                self.version = line.strip()
                if self.version in self.steps:
                    got["total"] = self.steps[self.version]
            m = self.HEADER.match(line)
            if not m:
                continue
            top, sub, what = m.groups()
            if what.startswith("Executing SYNTH_XILINX"):
                self.synth = top
            step = top == self.synth and sub
            if step:
                got["n"] = int(sub.split(".")[1])
            name = re.sub(r"^Executing |[.:].*$| \(.*$", "", what)[:40]
            # with no bar (the step count is not known yet) the step goes in the status
            got["status"] = (f"step {got['n']}: {name}" if step and self.version not in self.steps
                             else name)
        return got


def synth_steps(log: str) -> int:
    """The number of synth_xilinx's top-level steps in a finished log."""
    m = re.search(r"^(\d+)\. Executing SYNTH_XILINX", log, flags=re.M)
    found = re.findall(rf"^{m.group(1)}\.(\d+)\. ", log, flags=re.M) if m else []
    return max(map(int, found), default=0)


def parse_stat(log: str) -> dict:
    """Cell counts of the last `stat` block of a yosys log -> {cell type: count}."""
    block = log[log.rfind("Printing statistics"):]
    cells = {}
    for m in re.finditer(r"^\s+(\S+)\s+(\d+)\s*$", block, flags=re.M):
        cells[m.group(1)] = int(m.group(2))
    if not cells:
        raise AccelError("yosys printed no cell statistics: see the yosys log")
    return cells


def parse_modules(log: str) -> dict:
    """The last `stat` block per module -> {module: {cell type or submodule: count}}."""
    block = log[log.rfind("Printing statistics"):]
    block = block[:block.find("=== design hierarchy ===")]
    parts = re.split(r"^=== (.+) ===$", block, flags=re.M)
    return {name: {m.group(1): int(m.group(2))
                   for m in re.finditer(r"^\s+(\S+)\s+(\d+)\s*$", body, flags=re.M)}
            for name, body in zip(parts[1::2], parts[2::2])}


def parse_instances(dump: str) -> dict:
    """`dump` of the top's cells -> {instance name: module}."""
    return {m.group(2): m.group(1)
            for m in re.finditer(r"^\s*cell (\S+) \\(\S+)\s*$", dump, flags=re.M)}


def module_cells(modules: dict, name: str) -> dict:
    """Primitive cell counts of one module, its submodules' included."""
    out: dict = {}
    for cell, n in modules[name].items():
        if cell in modules:
            for c, k in module_cells(modules, cell).items():
                out[c] = out.get(c, 0) + n * k
        else:
            out[cell] = out.get(cell, 0) + n
    return out


def owner(inst: str, streams: list) -> str:
    """The layer an instance belongs to: u_<stream>[_part] goes to the layer of the longest
    stream that fits (streams: (stream, layer) pairs), anything else to "io". The one rule of
    by_layer, the timing breakdown and accel.rtl.resources."""
    return max(((len(s), name) for s, name in streams
                if inst == f"u_{s}" or inst.startswith(f"u_{s}_")), default=(0, "io"))[1]


def by_layer(manifest: dict, modules: dict, instances: dict) -> list:
    """Resources per layer (in network order), then io (unpack/pack) and glue (the top's own
    cells): each instance u_<stream>[_part] goes to the layer of that stream."""
    streams = [(l["stream"], l["name"]) for l in manifest["layers"]]
    groups: dict = {name: {} for _, name in streams}
    groups["io"] = {}
    groups["glue"] = {c: n for c, n in modules[manifest["top"]].items() if c not in modules}
    for inst, mod in instances.items():
        if mod not in modules:
            continue  # a primitive in the top (clock buffer, glue LUT): counted in glue
        group = owner(inst, streams)
        for c, n in module_cells(modules, mod).items():
            groups[group][c] = groups[group].get(c, 0) + n
    return [{"layer": g, **summarize(cells)} for g, cells in groups.items()]


def layer_timing(netlist: dict, manifest: dict, instances: dict) -> dict:
    """The timing proxy (accel.rtl.timing) of the whole design and per layer, a path belonging to
    the layer of its endpoint (by_layer's rule)."""
    from accel.rtl import timing

    streams = [(l["stream"], l["name"]) for l in manifest["layers"]]

    def layer(cell: str) -> str:
        inst = timing.instance_of(cell)
        if inst not in instances:
            return "glue"
        return owner(inst, streams)

    t = timing.analyze(netlist, manifest["top"], layer)
    rows = t.pop("groups")
    t["per_layer"] = [{"layer": k, **rows[k]} for k in [n for _, n in streams] + ["io", "glue"]
                      if k in rows]
    return t


def cached_timing(cached: Path, manifest: dict, instances: dict) -> dict:
    """layer_timing of a cached yosys run (its stored netlist), cached by the analysis code."""
    from accel.core.cache import code_hash

    path = cached.with_name(f"{cached.stem}.timing-{code_hash('rtl/timing.py')[:16]}.json")
    if not path.is_file():
        netlist = gzip.decompress(cached.with_suffix(".netlist.json.gz").read_bytes())
        write_json(path, layer_timing(json.loads(netlist), manifest, instances))
    return json.loads(path.read_text())


def _stash_netlist(src: Path, dst: Path) -> None:
    """The flattened netlist (tens of MB) gzipped into the cache (~1/10), whole or absent."""
    part = dst.with_name(f".{dst.name}-tmp-{os.getpid()}-{os.urandom(4).hex()}")
    part.write_bytes(gzip.compress(src.read_bytes(), compresslevel=6))
    os.replace(part, dst)
    src.unlink()


def summarize(cells: dict) -> dict:
    lut = sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]", c))
    lutram = sum(LUTRAM[c] * n for c, n in cells.items() if c in LUTRAM)
    return {"LUT": lut + lutram, "LUT_logic": lut, "LUT_memory": lutram,
            "FF": sum(cells.get(c, 0) for c in FLOPS),
            "DSP": cells.get("DSP48E1", 0),
            "BRAM36": cells.get("RAMB36E1", 0) + 0.5 * cells.get("RAMB18E1", 0),
            "CARRY4": cells.get("CARRY4", 0)}


def write_json(path: Path, data) -> None:
    """path whole or absent, never cut: written under a temporary name of accel.core.atomic's
    form, which the next cache.folder() lookup sweeps when a killed run leaves it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}-tmp-{os.getpid()}-{os.urandom(4).hex()}")
    part.write_text(json.dumps(data))
    os.replace(part, path)


def estimate(rtl_dir, board: str = "zybo", cache: bool = True) -> dict:
    """yosys resource estimate of the RTL project in rtl_dir against a board's capacity."""
    from accel.core.cache import folder, tree_hash
    from accel.core.cache import key as content_key  # (`cache` is the on/off argument)

    b = boards.get(board)
    rtl_dir = Path(rtl_dir).absolute()  # yosys runs in rtl_dir/rtl: its paths must not be relative
    man = rtl_dir / "accel_rtl.json"
    if not man.is_file():
        raise AccelError(f"{rtl_dir} has no accel_rtl.json: generate it with `accel rtl`")
    manifest = json.loads(man.read_text())
    if not shutil.which("yosys"):
        raise AccelError("yosys not found: apt-get install yosys (scripts/setup.sh installs it)")
    key = content_key(script(manifest),
                      tree_hash(rtl_dir, *manifest["files"], *manifest["mem_files"]))
    cached = folder("rtl", "yosys") / f"{key[:24]}.json"
    netlist = cached.with_suffix(".netlist.json.gz")
    if cache and cached.is_file() and netlist.is_file():
        found = json.loads(cached.read_text())
    else:
        work = rtl_dir / "rtl"
        (rtl_dir / "yosys.ys").write_text(script(manifest))
        log = rtl_dir / "yosys.log"
        log.write_text("")  # the watch below never reads an older run's log
        steps_file = cached.with_name("synth_steps.json")
        steps = json.loads(steps_file.read_text()) if steps_file.is_file() else {}
        with progress.task("yosys synth_xilinx", unit="steps", poll=LogWatch(log, steps)):
            proc = process.run(["yosys", "-q", "-l", str(log), "-s", str(rtl_dir / "yosys.ys")],
                               cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            raise AccelError(f"yosys failed on {rtl_dir}: {tail} (see {log})")
        text = log.read_text()
        version = re.search(r"^ (Yosys .*\S)", text, flags=re.M)
        if version and steps.get(version.group(1)) != synth_steps(text):
            write_json(steps_file, dict(steps, **{version.group(1): synth_steps(text)}))
        instances = parse_instances((rtl_dir / INSTANCES).read_text())
        found = {"cells": parse_stat(text), "instances": instances,
                 "layers": by_layer(manifest, parse_modules(text), instances)}
        _stash_netlist(rtl_dir / NETLIST, netlist)
        write_json(cached, found)
    cells = found["cells"]
    res = summarize(cells)
    cap = {"LUT": b.capacity["LUT"], "FF": b.capacity["FF"], "DSP": b.capacity["DSP48E1"],
           "BRAM36": b.capacity["BRAM36"]}
    res.update(board=b.name, part=b.part, capacity=cap, cells=cells, layers=found["layers"],
               timing=cached_timing(cached, manifest, found["instances"]),
               utilization={k: res[k] / cap[k] for k in cap},
               fits=all(res[k] <= cap[k] for k in cap), tool="yosys synth_xilinx -family xc7")
    return res
