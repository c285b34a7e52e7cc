"""`accel build`: the board flow as cached stages in build/<board>/.

    model    the model file (copy) and its integer layers (info.json)
    golden   golden vectors: N test images, expected output codes and every layer's codes, and
             the golden accuracy on more test images
    hls      hls4ml Vitis HLS project (accel.hls) + g++ C-sim compared with the golden vectors,
             outputs and every layer; resource estimate checked against the board
    rtl      (--backend rtl) our Verilog (accel.rtl.generate) + its estimate + simulation check
    vitis    Vitis HLS csynth/cosim/export of the project -> accel_ip.zip   (needs vitis_hls)
    vivado   the board flow TCL with params.tcl -> <name>.bit + <name>.hwh   (needs vivado)
    overlay  bit, hwh, accel_overlay.json (model, io, addresses), model file, driver

Each stage's folder is keyed by a sha256 of its inputs (accel.core.cache) and swapped in atomically with
its stamp (stamps.py); a run that is interrupted resumes at the first stage without a complete
folder. A stage that needs a vendor tool that is not installed is prepared (its folder holds
everything the tool needs), marked pending, and the run ends with the commands to run elsewhere and
exit code 3. Running those commands in the pending folders and then `accel build` again picks up
their outputs.
"""

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from accel.core import atomic, boards, cache
from accel.flow import stamps
from accel.core.errors import AccelError

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT, EXIT_NEEDS_TOOLS = 0, 1, 2, 3
STAGES = {"hls": ("model", "golden", "hls", "vitis", "vivado", "overlay"),
          "rtl": ("model", "golden", "rtl", "vivado", "overlay")}
ALL_STAGES = ("model", "golden", "hls", "rtl", "vitis", "vivado", "overlay")
BRAM36_BITS = 36 * 1024
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "default" / "tiny-mnist-int8.onnx"


class VerificationFailed(Exception):
    pass


@dataclass
class Result:
    code: int
    folder: Path
    stages: dict = field(default_factory=dict)
    commands: list = field(default_factory=list)


def overlay_name(board) -> str:
    return "accel_" + board.name.replace("-", "_")


def model_summary(qm) -> dict:
    from accel.core import arith  # noqa: F401  (the contract the numbers follow)

    layers = []
    for l in qm.layers:
        row = {"name": l.name, "kind": l.kind, "shape_chw": list(l.shape), "out_bits": l.out.bits,
               "out_type": l.out.describe(), "params": int(l.params), "macs": 0}
        if l.kind == "conv":
            o, i, kh, kw = l.weight.shape
            row.update(weight_bits=l.wtype.bits, bias_bits=l.btype.bits if l.btype else None,
                       macs=int(o * i * kh * kw * l.shape[1] * l.shape[2]),
                       weight_bits_total=int(l.weight.size * l.wtype.bits
                                             + (l.bias.size * l.btype.bits if l.btype else 0)))
        layers.append(row)
    qbits = sum(r.get("weight_bits_total", 0) for r in layers)
    params = sum(r["params"] for r in layers)
    return {"file": qm.path.name, "input_shape": list(qm.input_shape),
            "input_type": qm.input_type.describe(), "dataset": qm.meta.get("dataset"),
            "class_names": qm.class_names, "layers": layers, "params": int(params),
            "quantized_bytes": int(-(-qbits // 8)), "float32_bytes": int(4 * params),
            "weight_memory_bits": int(qbits), "macs": int(sum(r["macs"] for r in layers))}


def hls_config(board) -> dict:
    """accel/hls/hls.yaml, with an entry for a board it does not list (from the board file:
    80 % of the DSP48E1s for the conv multipliers, as hls.yaml does for its boards)."""
    from accel.hls import generate

    cfg = generate.load_config()
    if board.name not in cfg["boards"]:
        cfg["boards"][board.name] = {
            "part": board.part, "multipliers": max(1, int(0.8 * board.capacity["DSP48E1"])),
            "dsp48": board.capacity["DSP48E1"], "bram36": board.capacity["BRAM36"]}
    ns = round(board.clock_ns, 3)
    cfg["clock_period_ns"] = int(ns) if float(ns).is_integer() else ns
    return cfg


def fit_check(board, need: dict, what: str) -> dict:
    """need {resource: amount} against the board's capacity; AccelError naming the first that
    does not fit. Returns {resource: {"need", "capacity", "percent"}}."""
    rows = {}
    for res, amount in need.items():
        cap = board.capacity[res]
        rows[res] = {"need": amount, "capacity": cap, "percent": round(100.0 * amount / cap, 1)}
    for res, row in rows.items():
        if row["need"] > row["capacity"]:
            raise AccelError(f"the model does not fit {board.name} ({board.part}) by the {what}: "
                             f"{res} {row['need']} > {row['capacity']}; choose a larger board "
                             "(accel build --board zybo-z7-20) or a smaller / narrower model")
    return rows


class Build:
    def __init__(self, board: str, model=None, backend: str = "hls", out="build", images: int = 32,
                 accuracy_images: int = 1000, log=print):
        self.board = boards.get(board)
        if backend not in STAGES:
            raise AccelError(f"unknown backend '{backend}': choose from {', '.join(STAGES)}")
        self.backend = backend
        self.stages = STAGES[backend]
        if images < 1 or accuracy_images < 0:
            raise AccelError("--images must be >= 1 and --accuracy-images >= 0")
        self.images, self.accuracy_images = images, accuracy_images
        self.model_path = Path(model) if model else DEFAULT_MODEL
        from accel.core.modelfile import load_model

        self.qm = load_model(self.model_path)
        self.summary = model_summary(self.qm)
        self.out = Path(out)
        self.root = self.out / self.board.name
        self.name = overlay_name(self.board)
        self.log = log
        self.info: dict = {}
        self.keys: dict = {}
        self.commands: list = []
        if backend == "rtl":
            self.rtl_api()  # AccelError now, before anything is written

    # -----------------------------------------------------------------------------------------
    # checks before anything is written

    def rtl_api(self):
        """accel.rtl's generate (required) and estimate (optional: without it the fit check uses
        the generator's multiplier count)."""
        try:
            from accel.rtl import generate
        except ImportError as exc:
            raise AccelError(f"--backend rtl: the RTL generator is not available in this "
                             f"checkout yet ({exc}); use --backend hls") from None
        try:
            from accel.rtl import estimate
        except ImportError:
            estimate = None
        return generate, estimate

    def early_fit(self) -> dict:
        """Resources the model needs at least, before any stage runs: its weights in block RAM
        (hls4ml keeps every weight on chip) and the conv multipliers of the HLS plan."""
        need = {"BRAM36": -(-self.summary["weight_memory_bits"] // BRAM36_BITS)}
        rows = fit_check(self.board, need, "weight memory estimate")
        if self.backend == "hls":
            from accel.hls import generate

            planned = generate.plan(self.qm, hls_config(self.board), self.board.name)
            mults = sum(p.mult_in * p.mult_out // p.reuse_factor for p in planned
                        if p.layer.kind == "conv")
            rows.update(fit_check(self.board, {"DSP48E1": mults}, "HLS multiplier estimate"))
        return rows

    def check_output(self) -> None:
        """The output folder can be written; nothing is left behind by the check."""
        made = []
        p = self.root
        while not p.exists():
            made.append(p)
            p = p.parent
        if not p.is_dir():
            raise AccelError(f"--out {self.out}: {p} is not a folder; choose another --out")
        try:
            for d in reversed(made):
                d.mkdir()
            probe = self.root / ".accel-write-probe"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            for d in made:
                if d.exists():
                    shutil.rmtree(d, ignore_errors=True)
            raise AccelError(f"--out {self.out} is not writable ({exc.strerror}); choose another "
                             "--out") from None

    # -----------------------------------------------------------------------------------------

    def progress(self, i: int, stage: str, status: str, seconds: float | None, note: str = ""):
        t = f" {seconds:5.1f} s" if seconds is not None else "        "
        self.log(f"accel build: [{i}/{len(self.stages)}] {stage:8} {status:11}{t}"
                 + (f"  {note}" if note else ""))

    def run(self, until: str | None = None) -> Result:
        if until is not None and until not in self.stages:
            raise AccelError(f"--until {until}: choose a stage of the {self.backend} flow: "
                             f"{', '.join(self.stages)}")
        fit = self.early_fit()
        self.check_output()
        atomic.sweep(self.root)
        self.log(f"accel build: {self.model_path} -> {self.root} ({self.board.description}, "
                 f"{self.board.part}, {self.backend} backend)")
        last = self.stages.index(until) if until else len(self.stages) - 1
        code = EXIT_OK
        self.info["fit_early"] = fit
        try:
            for i, stage in enumerate(self.stages[:last + 1], 1):
                t0 = time.time()
                info = getattr(self, f"stage_{stage}")()
                self.info[stage] = info
                status = info["status"]
                cached = info.pop("_cached", False)
                self.progress(i, stage, "cached" if cached and status == "done" else status,
                              None if cached else time.time() - t0, info.get("note", ""))
                if status == "pending":
                    code = EXIT_NEEDS_TOOLS
        except VerificationFailed as exc:
            self.log(f"accel build: FAIL: {exc}")
            code = EXIT_MISMATCH
        except AccelError:
            self.finish(EXIT_BAD_INPUT)  # completed stages stay valid; the failed one left nothing
            raise
        self.finish(code)
        if self.commands:
            self.log("accel build: vendor tools missing here. Everything that can run has run; on "
                     "a machine with the tools (copy the folder), run in order:")
            for c in self.commands:
                self.log(f"  {c}")
            self.log(f"  then again: accel build --board {self.board.name}"
                     + (f" --model {self.model_path}" if self.model_path != DEFAULT_MODEL else "")
                     + f" --backend {self.backend} --out {self.out}   (packages the overlay)")
        return Result(code, self.root, self.info, list(self.commands))

    def finish(self, code: int) -> None:
        from accel.flow import report

        state = {"board": self.board.name, "backend": self.backend, "model": str(self.model_path),
                 "stages": {s: self.info.get(s, {"status": "not run"}) for s in self.stages},
                 "fit_early": self.info.get("fit_early"), "exit_code": code,
                 "commands": self.commands}
        tmp = self.root / ".build.json.tmp"
        tmp.write_text(json.dumps(state, indent=1, default=str) + "\n")
        os.replace(tmp, self.root / "build.json")
        try:
            report.write(self.root, state, self.summary, self.board)
            self.log(f"accel build: report {self.root / 'report.md'}")
        except Exception as exc:  # the report must never lose the build's status
            self.log(f"accel build: report not written ({type(exc).__name__}: {exc})")

    # -----------------------------------------------------------------------------------------
    # stages: each returns its stamp (status done | pending | not available | blocked)

    def _cached(self, stage: str, key: str) -> dict | None:
        self.keys[stage] = key
        s = stamps.lookup(self.root / stage, key)
        if s and s.get("status") == "done":
            s["_cached"] = True
            return s
        return None

    def stage_model(self) -> dict:
        key = cache.key("model", cache.file_hash(self.model_path),
                        cache.module_hash("accel.core.modelfile", "accel.flow.pipeline"))
        hit = self._cached("model", key)
        if hit:
            return hit
        tmp = atomic.make_temp(self.root / "model")
        try:
            shutil.copyfile(self.model_path, tmp / "model.onnx")
            (tmp / "info.json").write_text(json.dumps(self.summary, indent=1) + "\n")
            info = {"stage": "model", "key": key, "status": "done",
                    "sha256": cache.file_hash(self.model_path),
                    "note": f"{self.summary['params']} parameters, {len(self.qm.layers)} layers"}
            stamps.commit(tmp, self.root / "model", info)
        finally:
            atomic.discard(tmp)
        return info

    def _images(self, n: int):
        from accel import data

        c, h, w = self.qm.input_shape
        name = self.qm.meta.get("dataset")
        if name:
            try:
                split = data.load_dataset(name, size=(h, w), channels=c).test
                return split.x[:n], split.y[:n], f"{name} test[0:{min(n, len(split))}]"
            except AccelError:
                pass
        rng = np.random.default_rng(0)
        return (rng.integers(0, 256, size=(n, c, h, w), dtype=np.uint8), None,
                f"random uint8 (seed 0) x {n}")

    def stage_golden(self) -> dict:
        from accel import golden

        key = cache.key("golden", self.keys["model"], self.images, self.accuracy_images,
                        cache.module_hash("accel.golden", "accel.data"))
        hit = self._cached("golden", key)
        if hit:
            return hit
        tmp = atomic.make_temp(self.root / "golden")
        try:
            x, _, source = self._images(self.images)
            y, trace = golden.run(self.qm, x, trace=True)
            np.save(tmp / "images.npy", np.asarray(x, dtype=np.uint8))
            np.save(tmp / "expected.npy", y)
            np.savez_compressed(tmp / "layers.npz", **trace)
            acc = None
            if self.accuracy_images:
                xa, ya, asource = self._images(self.accuracy_images)
                if ya is not None:
                    pred = golden.predict(self.qm, xa)
                    acc = {"accuracy": float((pred == ya).mean()), "images": int(len(ya)),
                           "source": asource}
            info = {"stage": "golden", "key": key, "status": "done", "images": int(len(x)),
                    "source": source, "accuracy": acc,
                    "note": f"{len(x)} vectors ({source})" + (
                        f", golden accuracy {acc['accuracy'] * 100:.2f} % of {acc['images']}"
                        if acc else "")}
            stamps.commit(tmp, self.root / "golden", info)
        finally:
            atomic.discard(tmp)
        return info

    def _golden(self):
        g = self.root / "golden"
        x, y = np.load(g / "images.npy"), np.load(g / "expected.npy")
        with np.load(g / "layers.npz") as z:
            trace = {k: z[k] for k in z.files}
        return x, y, trace

    def stage_hls(self) -> dict:
        from accel.hls import generate
        from accel.hls.csim import CSim

        cfg = hls_config(self.board)
        key = cache.key("hls", self.keys["golden"], self.board.name, cfg,
                        cache.module_hash("accel.hls.generate", "accel.hls.csim", "accel.golden"))
        hit = self._cached("hls", key)
        if hit:
            return hit
        tmp = atomic.make_temp(self.root / "hls")
        try:
            x, y, trace = self._golden()
            meta = generate.write(self.qm, tmp / "project", board=self.board.name, config=cfg,
                                   tb_images=min(len(x), 16), force=True)
            est = meta["estimate"]
            need = {"DSP48E1": est["multipliers"],
                    "BRAM36": est["fifos"]["bram36_estimate"]
                    + -(-self.summary["weight_memory_bits"] // BRAM36_BITS)}
            fit = fit_check(self.board, need, "HLS resource estimate")
            sim = CSim(tmp / "project")
            tb_code, tb_line = sim.testbench()
            got, got_trace = sim.run(x, trace=True)
            out_bad = int((got != y).sum())
            layers = {k: int((got_trace[k] != v).sum()) for k, v in trace.items()}
            bad = out_bad + sum(layers.values()) + (1 if tb_code else 0)
            result = {"level": "hls C-sim (g++)", "images": int(len(x)),
                      "output_mismatches": out_bad, "layer_mismatches": layers,
                      "layers_compared": len(layers), "testbench": tb_line,
                      "testbench_ok": tb_code == 0,
                      "compile": "cached" if sim.build_info["cached"] else
                      f"{sim.build_info['compile_seconds']:.0f} s"}
            (tmp / "csim.json").write_text(json.dumps(result, indent=1) + "\n")
            if bad:
                raise VerificationFailed(f"HLS C-sim differs from the golden model: {out_bad} "
                                         f"output and {sum(layers.values())} layer mismatches on "
                                         f"{len(x)} images ({tb_line})")
            info = {"stage": "hls", "key": key, "status": "done", "verify": result,
                    "estimate": est, "fit": fit,
                    "note": f"C-sim vs golden: 0 mismatches ({len(x)} images, outputs + "
                            f"{len(layers)} layers); {est['multipliers']} multipliers, "
                            f"~{need['BRAM36']} BRAM36"}
            stamps.commit(tmp, self.root / "hls", info)
        finally:
            atomic.discard(tmp)
        return info

    def stage_rtl(self) -> dict:
        """accel.rtl: generate.generate(model, dir, board=) -> accel_rtl.json; estimate.estimate(
        dir, board) -> {LUT, FF, DSP, BRAM36, fits}; sim.simulate(dir, images) -> {"outputs",
        "ii_cycles", "latency_cycles", "layers": [{name, cycles_per_image, ...}]}."""
        generate, estimate = self.rtl_api()
        key = cache.key("rtl", self.keys["golden"], self.board.name, cache.module_hash("accel.rtl.generate"))
        hit = self._cached("rtl", key)
        if hit:
            return hit
        tmp = atomic.make_temp(self.root / "rtl")
        try:
            rtl_dir = tmp / "accel"
            manifest = generate.generate(str(self.model_path), str(rtl_dir), board=self.board.name)
            if estimate is not None:
                est = dict(estimate.estimate(str(rtl_dir), self.board.name))
                est["source"] = "accel.rtl.estimate (yosys)"
            else:
                est = {"DSP": manifest.get("estimate", {}).get("multipliers", 0),
                       "source": "generator multiplier count (accel.rtl.estimate not available)"}
            need = {k: est[k] for k in ("LUT", "FF", "BRAM36") if isinstance(est.get(k), (int, float))}
            need["DSP48E1"] = est.get("DSP48E1", est.get("DSP", 0))
            fit = fit_check(self.board, need, "RTL resource estimate")
            if est.get("fits") is False:
                raise AccelError(f"the model does not fit {self.board.name} by the RTL estimate: "
                                 f"{need} (capacity {self.board.capacity})")
            x, y, _ = self._golden()
            result = {"level": "rtl simulation", "status": "not available"}
            try:
                from accel.rtl import sim
            except ImportError:
                sim = None
            if sim is not None and hasattr(sim, "simulate"):
                res = sim.simulate(str(rtl_dir), x)
                got = np.asarray(res["outputs"]).reshape(y.shape)
                bad = int((got != y).sum())
                result = {"level": "rtl simulation (cocotb)", "images": int(len(x)),
                          "output_mismatches": bad, "ii_cycles": res.get("ii_cycles"),
                          "latency_cycles": res.get("latency_cycles"),
                          "layers": [{k: l.get(k) for k in ("name", "cycles_per_image",
                                                           "estimated_cycles")}
                                     for l in res.get("layers", [])]}
                if bad:
                    raise VerificationFailed(f"RTL simulation differs from the golden model: "
                                             f"{bad} output mismatches on {len(x)} images")
            info = {"stage": "rtl", "key": key, "status": "done", "verify": result,
                    "estimate": est, "fit": fit,
                    "note": f"{need['DSP48E1']} multipliers; simulation vs golden: "
                            + (f"0 mismatches ({len(x)} images)" if "images" in result
                               else "not available")}
            stamps.commit(tmp, self.root / "rtl", info)
        finally:
            atomic.discard(tmp)
        return info

    # -----------------------------------------------------------------------------------------
    # vendor-tool stages: prepare, commit as pending, run when the tool is here

    def _tool_stage(self, stage: str, key: str, prepare, tool_here: bool, upstream_ready: bool,
                    run, finished, command: str) -> dict:
        folder = self.root / stage
        hit = self._cached(stage, key)
        if hit:
            return hit
        s = stamps.lookup(folder, key)
        if s is None:  # prepare the folder (atomically), then it is pending until the tool ran
            tmp = atomic.make_temp(folder)
            try:
                prepare(tmp)
                s = {"stage": stage, "key": key, "status": "pending", "command": command}
                stamps.commit(tmp, folder, s)
            finally:
                atomic.discard(tmp)
        done = finished(folder)
        if done is None and tool_here and upstream_ready:
            run(folder)
            done = finished(folder)
            if done is None:
                raise AccelError(f"{stage}: the tool ran but its outputs are missing in {folder}")
        if done is not None:
            s.update(done, status="done")
            stamps.update_stamp(folder, s)
            return s
        s = dict(s, status="pending",
                 note=("the tool is not installed here" if not tool_here
                       else "waiting for the previous stage's tool output"))
        self.commands.append(command)
        return s

    def stage_vitis(self) -> dict:
        from accel.hls import vitis

        key = cache.key("vitis", self.keys["hls"], cache.module_hash("accel.hls.vitis"))
        folder = self.root / "vitis"

        def prepare(tmp):
            shutil.copytree(self.root / "hls" / "project", tmp, dirs_exist_ok=True)

        def finished(f):
            if not (f / "accel_ip.zip").is_file():
                return None
            return {"ip_zip": "accel_ip.zip", "csynth": csynth_report(f),
                    "note": "accel_ip.zip exported"}

        return self._tool_stage("vitis", key, prepare, vitis.command(folder) is not None, True,
                                lambda f: vitis.build(f), finished, vitis.instructions(folder))

    def _accel_desc(self) -> tuple[dict, bool]:
        from accel.flow import vivado

        if self.backend == "hls":
            meta = json.loads((self.root / "hls" / "project" / "accel_hls.json").read_text())
            desc = vivado.accel_from_hls(meta, "../vitis/accel_ip.zip")
            ready = self.info.get("vitis", {}).get("status") == "done"
        else:
            rtl_dir = self.root / "rtl" / "accel"
            meta = json.loads((rtl_dir / "accel_rtl.json").read_text())
            desc = vivado.accel_from_rtl(meta, rtl_dir, "../rtl/accel")
            ready = True
        return desc, ready

    def stage_vivado(self) -> dict:
        from accel.flow import vivado, vivado_reports

        desc, ready = self._accel_desc()
        upstream = self.keys["vitis" if self.backend == "hls" else "rtl"]
        key = cache.key("vivado", upstream, self.board.name, desc,
                        cache.module_hash("accel.flow.vivado", "accel.vivado"),
                        cache.file_hash(self.board.path))
        folder = self.root / "vivado"

        def prepare(tmp):
            vivado.write(tmp, self.board, self.name, desc)

        def finished(f):
            files = vivado.outputs(f, self.name)
            if files is None:
                return None
            util = vivado_reports.utilization(files["utilization"].read_text())
            timing = vivado_reports.timing(files["timing"].read_text())
            return {"bit": files["bit"].name, "hwh": files["hwh"].name, "utilization": util,
                    "timing": timing,
                    "note": f"{files['bit'].name} + {files['hwh'].name}; WNS "
                            f"{timing['wns_ns']} ns ({'met' if timing['met'] else 'NOT MET'})"}

        params = vivado.params(self.board, self.name, desc)
        info = self._tool_stage("vivado", key, prepare, vivado.tool() is not None, ready,
                                vivado.run, finished, vivado.command(folder))
        info["params"] = {k: v for k, v in params.items() if k != "ps7_config"}
        return info

    def stage_overlay(self) -> dict:
        from accel.flow import vivado

        viv = self.info.get("vivado", {})
        if viv.get("status") != "done":
            return {"stage": "overlay", "status": "blocked",
                    "note": "waits for the vivado stage's bit + hwh"}
        src = self.root / "vivado"
        key = cache.key("overlay", self.keys["vivado"], cache.file_hash(src / viv["bit"]),
                        cache.file_hash(src / viv["hwh"]), cache.module_hash("accel.flow.pipeline"))
        hit = self._cached("overlay", key)
        if hit:
            return hit
        desc, _ = self._accel_desc()
        tmp = atomic.make_temp(self.root / "overlay")
        try:
            shutil.copyfile(src / viv["bit"], tmp / f"{self.name}.bit")
            shutil.copyfile(src / viv["hwh"], tmp / f"{self.name}.hwh")
            shutil.copyfile(self.model_path, tmp / "model.onnx")
            driver = cache.PKG / "python"
            copied = []
            if driver.is_dir():
                shutil.copytree(driver, tmp / "driver", ignore=shutil.ignore_patterns(
                    "__pycache__", "*.pyc"))
                copied = sorted(p.name for p in (tmp / "driver").iterdir())
            io_ = (json.loads((self.root / "hls" / "project" / "accel_hls.json").read_text())["io"]
                   if self.backend == "hls" else
                   json.loads((self.root / "rtl" / "accel" / "accel_rtl.json").read_text())["io"])
            meta = {
                "format": "accel-overlay-1", "board": self.board.name, "part": self.board.part,
                "clock_mhz": self.board.clock_mhz, "backend": self.backend,
                "bitstream": f"{self.name}.bit", "hwh": f"{self.name}.hwh",
                "model": {k: self.summary[k] for k in ("file", "input_shape", "input_type",
                                                       "dataset", "class_names", "params")},
                "model_sha256": cache.file_hash(self.model_path), "io": io_,
                "dma": {"cell": "dma", "base": vivado.DMA_BASE, "range": vivado.DMA_RANGE,
                        "stream_bits": desc["stream_bits"], "mode": "simple (no SG)"},
                "accel": {"cell": "accel", "control": "ap_ctrl (AXI4-Lite)" if desc["s_axilite"]
                          else "none (free running)",
                          "base": vivado.CTRL_BASE if desc["s_axilite"] else None},
                "driver": copied,
            }
            (tmp / "accel_overlay.json").write_text(json.dumps(meta, indent=1) + "\n")
            info = {"stage": "overlay", "key": key, "status": "done",
                    "files": sorted(p.name for p in tmp.iterdir()),
                    "note": f"{self.name}.bit + .hwh + accel_overlay.json"
                            + ("" if copied else " (driver: accel/python not present yet)")}
            stamps.commit(tmp, self.root / "overlay", info)
        finally:
            atomic.discard(tmp)
        return info


def csynth_report(folder: Path) -> dict | None:
    """Vitis HLS csynth.xml (latency, interval, resources) when the tool has run, else None."""
    import xml.etree.ElementTree as ET

    hits = sorted(Path(folder).glob("accel_prj/solution1/syn/report/accel_top_csynth.xml")) or \
        sorted(Path(folder).glob("accel_prj/solution1/syn/report/csynth.xml"))
    if not hits:
        return None
    try:
        root = ET.parse(hits[0]).getroot()
    except ET.ParseError:
        return None

    def val(path):
        el = root.find(path)
        try:
            return int(el.text) if el is not None else None
        except (TypeError, ValueError):
            return None

    res = root.find("AreaEstimates/Resources")
    return {"latency_cycles": val("PerformanceEstimates/SummaryOfOverallLatency/Best-caseLatency"),
            "interval_cycles": val("PerformanceEstimates/SummaryOfOverallLatency/Interval-min"),
            "resources": {c.tag: int(c.text) for c in res if (c.text or "").isdigit()}
            if res is not None else {}}


def build(board: str, model=None, backend: str = "hls", until: str | None = None, out="build",
          images: int = 32, accuracy_images: int = 1000, log=print) -> Result:
    return Build(board, model, backend, out, images, accuracy_images, log).run(until)
