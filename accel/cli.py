"""The `accel` command line: each subcommand parses, calls one function of the Python API
(accel/api.py) and prints. Exit codes: see EXIT_CODES (shown by `accel --help`).
"""

import argparse
import json
import os
import sys
from pathlib import Path

from accel.core import config
from accel.core.errors import AccelError
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


MODEL_ARGS = ("base_e", "incr_e", "pct_3x3", "freq", "sr", "num_fires", "bypass")  # zoo options


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


def cmd_train(args) -> int:
    from accel.api import Model

    Model.train(args.out, resume=args.resume, progress=not args.quiet, force=args.force,
                model=args.model, dataset=args.dataset, wbits=args.wbits, abits=args.abits,
                      bbits=args.bbits, float_model=args.float, epochs=args.epochs,
                      float_epochs=args.float_epochs,
                      batch_size=args.batch_size, lr=args.lr, qat_lr=args.qat_lr,
                      augment=not args.no_augment,
                      seed=args.seed, size=args.size, channels=args.channels,
                      dropout=args.dropout, init=args.init, split=args.split,
                      model_args={k: getattr(args, k) for k in MODEL_ARGS
                                  if getattr(args, k) is not None} or None)
    return 0


def cmd_export(args) -> int:
    from accel.api import Model

    out = Model.export(args.run, args.out, force=args.force).path
    print(f"wrote {out} (+ {out.with_suffix('.pt').name})")
    return 0


def cmd_eval(args) -> int:
    r = _load(args).evaluate(args.images, args.dataset, args.split)
    print(r.to_json() if args.json else f"{r.dataset} {args.split}: {r.accuracy * 100:.2f} % of "
          f"{r.images} images (golden integer model)")
    return 0


def cmd_verify(args) -> int:
    model = _load(args)
    res = model.verify(args.levels, args.images, args.dataset, args.split, args.checkpoint)
    total = res.mismatches
    if args.json:
        print(res.to_json())
    else:
        print(f"{model.path.name}: {res.images} {res.dataset} {args.split} images, "
              "reference = golden")
        print(f"{'level':8} {'layer':28} {'elements':>12} {'mismatches':>10}")
        for r in res.levels:
            if r.level == "golden":
                print(f"{'golden':8} {'(reference)':28} {'':>12} {'':>10}  {r.seconds:.1f} s")
                continue
            for layer, (n, m) in r.layers.items():
                print(f"{r.level:8} {layer:28} {n:12d} {m:10d}")
            print(f"{r.level:8} {'OUTPUT':28} {r.images * model.qm.num_classes:12d} "
                  f"{r.output_mismatches:10d}  {r.seconds:.1f} s")
        print("PASS: 0 mismatches" if total == 0 else f"FAIL: {total} mismatches")
    return 0 if total == 0 else 1


def cmd_info(args) -> int:
    from accel.core.kinds import support

    qm = _load(args).qm
    print(f"{qm.path}: input {qm.input_shape} {qm.input_type.describe()}, "
          f"{len(qm.layers)} layers, {sum(l.params for l in qm.layers)} parameters")
    for layer in qm.layers:
        extra = ""
        if layer.kind == "conv":
            extra = (f"w {layer.wtype.describe()} b {layer.btype.describe() if layer.btype else '-'} "
                     f"k{layer.kernel[0]} s{layer.stride[0]}{' relu' if layer.relu else ''}")
        print(f"  {layer.name:24} {layer.kind:8} out {str(layer.shape):14} "
              f"{layer.out.describe():12} {extra}")
    table = support(qm)
    print("backends: " + ", ".join(f"{b} {'no' if why else 'yes'}" for b, why in table.items()))
    for backend, why in table.items():
        for reason in why:
            print(f"  {backend}: {reason}")
    return 0


def cmd_c(args) -> int:
    out = _load(args).c(args.out, arm=args.arm, force=args.force)
    built = "accel_demo" + (" and accel_demo.arm (static Cortex-A9)" if args.arm else "")
    print(f"wrote {out}/accel_model.c, accel_model.h, main.c, Makefile; built {built}")
    return 0


def cmd_hls(args) -> int:
    from accel.hls import vitis
    from accel.verify import against_golden

    if args.csim is not None and args.csim < 0:
        raise AccelError("--csim N: N must be >= 0 (0: testbench only)")
    m = _load(args)
    r = m.hls(args.out, board=args.board, config=args.config, tb_images=args.tb_images,
              force=args.force)
    out = r.out
    print(r.report, end="")
    print(f"wrote {out}: hls4ml project (firmware/), accel_top.cpp (AXI4-Stream + AXI4-Lite), "
          f"build.tcl, build_csim.sh, tb_data/ ({r.tb_images} golden vectors), accel_hls.json")
    status = 0
    if args.csim is not None:
        from accel.hls.csim import CSim

        sim = CSim(out)
        how = "cached" if sim.build_info["cached"] else f"{sim.build_info['compile_seconds']:.0f} s"
        code, line = sim.testbench()
        print(f"C-sim (g++, {how}): {line}")
        status = 1 if code else 0
        if args.csim > 0:
            images = m.images(args.csim)
            got, trace = sim.run(images.x, trace=True)
            bad = against_golden("hls", m.qm, images.x, got, trace).mismatches
            print(f"C-sim vs golden on {len(images.x)} {images.dataset} test images, outputs and "
                  f"every layer: {bad} mismatches")
            status = status or (1 if bad else 0)
    if args.vitis:
        result = vitis.build(out)
        print(f"Vitis HLS: ran `{result['command']}`, IP {result['ip_zip']}" if result["ran"] else
              f"vitis_hls is not on PATH: the project is complete; run {result['command']}")
    else:
        print(f"next: {vitis.instructions(out)}")
    return status


def cmd_rtl(args) -> int:
    r = _load(args).rtl(args.out, board=args.board, target_fps=args.target_fps, fold=args.fold,
                        force=args.force, yosys_fit=args.yosys_fit)
    est = r.manifest["estimate"]
    print(f"{'layer':20} {'kind':8} {'PE':>4} {'SIMD':>5} {'mul':>4} {'DSP':>4} {'cycles/img':>11}")
    for l in r.layers:
        if l["kind"] in ("conv", "maxpool", "gap"):
            mark = "  <- bottleneck" if l["name"] == est["bottleneck"] else ""
            print(f"{l['name']:20} {l['kind']:8} {l.get('pe', ''):>4} {l.get('simd', ''):>5} "
                  f"{l.get('mul', ''):>4} {l.get('dsps', ''):>4} {l['cycles']:11d}{mark}")
    print(f"{r.multipliers} multipliers; slowest layer {r.slowest_layer_cycles} cycles/image "
          f"-> {r.images_per_s:.0f} images/s at {r.clock_mhz:g} MHz (estimate; "
          f"`accel sim` measures), MAC utilization {r.mac_utilization:.1%}")
    m = r.manifest["fold"]["mapping"]
    print(f"resource model on the {m['board']} (budget = capacity minus the reserve, less the "
          f"model's error margin; "
          f"`accel estimate --yosys` synthesizes): " + ", ".join(
              f"{k} {m['used'][k]:,.0f} of {m['budget'][k]:,.0f}" for k in m["used"]))
    print(f"wrote {args.out}: rtl/ (Verilog-2001 + ROM .mem files), accel_rtl.json")
    return 0


def cmd_sim(args) -> int:
    r = _load(args).sim(args.images, simulator=args.simulator, rtl=args.rtl, fold=args.fold,
                        board=args.board, target_fps=args.target_fps, driver=args.driver,
                        valid_gaps=args.valid_gaps, backpressure=args.backpressure,
                        seed=args.seed, waves=args.waves)
    res, bad, acc, n = r.summary, r.mismatched_images, r.accuracy, r.images
    if args.json:
        print(r.to_json())
    else:
        print(f"{args.simulator}: {n} {r.dataset} test images through {r.rtl}")
        print(f"{'layer':20} {'PE':>4} {'SIMD':>5} {'est. cycles':>12} {'first out':>10} "
              f"{'cycles/img':>11}")
        for l in res["layers"]:
            cyc = l["cycles_per_image"]
            print(f"{l['name']:20} {l['pe'] or '':>4} {l['simd'] or '':>5} "
                  f"{l['estimated_cycles']:12d} {l['first_out_cycle']:10d} "
                  f"{cyc if cyc is None else round(cyc):>11}")
        ii = res["ii_cycles"]
        rate = (f"II {round(ii)} cycles -> {res['images_per_s']:.0f} images/s" if ii else
                "II needs 2+ images")
        print(f"latency {res['latency_cycles']} cycles (first input word -> last output word), "
              f"{rate} at {res['clock_mhz']:g} MHz; {res['multipliers']} multipliers"
              + (f", MAC utilization {res['mac_utilization']:.1%}" if res["mac_utilization"]
                 else ""))
        if acc is not None:
            print(f"accuracy {acc:.2%} of {n}")
        if res["waves"]:
            print(f"waveform: {res['waves']}")
        print("PASS: 0 mismatches vs golden" if bad == 0 else
              f"FAIL: {bad} of {n} images differ from the golden model")
    return 0 if bad == 0 else 1


def cmd_estimate(args) -> int:
    r = _load(args).estimate(args.board, yosys=args.yosys, rtl=args.rtl, fold=args.fold,
                             target_fps=args.target_fps)
    if not args.yosys:
        return _model_estimate(args, r)
    e, rtl = r.details, r.rtl
    if args.json:
        print(json.dumps(e, indent=2))
    else:
        print(f"yosys synth_xilinx -family xc7 on {rtl} (estimate; Vivado's numbers will differ)")
        for k in ("LUT", "FF", "DSP", "BRAM36"):
            print(f"  {k:7} {e[k]:>9g} of {e['capacity'][k]:>7} ({e[k] / e['capacity'][k]:.0%})")
        t = e.get("timing") or {}  # accel.rtl.timing, from the yosys netlist: a proxy, no Vivado
        if t:
            c = t["critical"]
            print(f"  depth   {t['lut_levels']} LUT levels, CARRY4 chain {t['carry4_chain']}; "
                  f"~{t['est_fmax_mhz']:g} MHz estimated ({c['delay_ns']:g} ns: {c['from']} -> "
                  f"{c['to']})")
        if args.layers:
            tl = {r["layer"]: r for r in t.get("per_layer", [])}
            print(f"  {'layer':18} {'LUT':>7} {'(mem)':>6} {'FF':>7} {'DSP':>4} {'BRAM36':>6} "
                  f"{'levels':>6} {'CARRY4':>6} {'~MHz':>6}")
            for r in e["layers"]:
                if any(r[k] for k in ("LUT", "FF", "DSP", "BRAM36")):
                    d = tl.get(r["layer"], {"lut_levels": "-", "carry4_chain": "-",
                                            "est_fmax_mhz": "-"})
                    print(f"  {r['layer']:18} {r['LUT']:7d} {r['LUT_memory']:6d} {r['FF']:7d} "
                          f"{r['DSP']:4d} {r['BRAM36']:6g} {d['lut_levels']:>6} "
                          f"{d['carry4_chain']:>6} {d['est_fmax_mhz']:>6}")
        print(f"{'fits' if e['fits'] else 'does NOT fit'} {e['board']} ({e['part']})")
    return 0 if e["fits"] else 1


def _model_estimate(args, r) -> int:
    """accel estimate without --yosys: the resource model's figures (seconds, no synthesis)."""
    from accel.rtl.sim import load_manifest

    m = load_manifest(r.rtl)
    res, mapping = m["estimate"]["resources"], m["fold"]["mapping"]
    fits = all(res["total"][k] <= mapping["budget"][k] for k in mapping["budget"])
    if args.json:
        print(json.dumps({"board": mapping["board"], "source": "resource model",
                          "resources": res, "budget": mapping["budget"],
                          "capacity": mapping["capacity"], "fits": fits}, indent=2))
        return 0 if fits else 1
    print(f"resource model of {r.rtl} (accel/rtl/resources.py; `--yosys` synthesizes for the "
          f"exact figures and the timing proxy)")
    for k in ("LUT", "FF", "DSP", "BRAM36"):
        u, b, c = res["total"][k], mapping["budget"][k], mapping["capacity"][k]
        print(f"  {k:7} {u:>9,.0f} of {b:>7,.0f} budget ({c:,.0f} on the board, {u / c:.0%})")
    if args.layers:
        print(f"  {'layer':18} {'LUT':>7} {'FF':>7} {'DSP':>4} {'BRAM36':>6}")
        for row in res["layers"]:
            print(f"  {row['layer']:18} {row['LUT']:7.0f} {row['FF']:7.0f} {row['DSP']:4.0f} "
                  f"{row['BRAM36']:6g}")
    print(f"{'fits' if fits else 'does NOT fit'} the {mapping['board']} budget "
          f"(capacity minus the reserve for the PS7, DMA and interconnect)")
    return 0 if fits else 1


def cmd_build(args) -> int:
    from accel.api import Model

    spec = config.build_config(args.config) if args.config else config.BuildConfig()
    # the build flags default to SUPPRESS: only the ones given are in args, and they win
    spec = spec.model_copy(update={k: v for k, v in vars(args).items()
                                   if k in config.BuildConfig.model_fields})
    if spec.board is None:
        raise AccelError("--board is required (or a board: key in the --config file)")
    if isinstance(spec.hls_config, dict):  # inline: checked here, where the file has a name
        from accel.hls.generate import load_config

        load_config(spec.hls_config, f"build config {args.config}: hls_config")
    return Model.load(spec.model).build(spec.board, backend=spec.backend, out=spec.out,
                                        until=spec.until, images=spec.images,
                                        accuracy_images=spec.accuracy_images,
                                        force=spec.force, dataset=spec.dataset, fold=spec.fold,
                                        target_fps=spec.target_fps, clock_mhz=spec.clock_mhz,
                                        hls_config=spec.hls_config, start=spec.start).code


def cmd_run(args) -> int:
    """The PYNQ driver on the board, or against the simulated device (the RTL simulation)."""
    from accel.python.driver import DriverError

    try:
        return _run(args)
    except DriverError as e:  # the board-side runtime has no AccelError: the same one line, exit 2
        raise AccelError(str(e)) from None


def _run(args) -> int:
    import time

    from accel import data
    from accel.core import boards
    from accel.core.modelfile import load_model
    from accel.python import driver
    from accel.verify import against_golden

    if args.board != "sim":
        boards.get(args.board)  # unknown board: one line, exit 2
        try:
            import pynq  # noqa: F401  (board-only; pins numpy<2)
        except ImportError:
            raise AccelError(f"pynq is not installed here: run `accel run --board {args.board}` "
                             "on the board (a PYNQ 4.0 image) or use --board sim") from None
        folder = Path(args.overlay or Path("build") / args.board / "overlay")
        meta = driver.load_metadata(folder)
        if meta.get("board") not in (args.board, None):
            raise AccelError(f"{folder} is an overlay for {meta['board']}, not {args.board}")
        qm = load_model(Path(args.model) if args.model else
                        Path(meta["_path"]).parent / "model.onnx")
        acc = driver.AccelOverlay(folder, timeout_s=args.timeout, batch=args.batch)
        where, sim_overlay = f"{args.board} ({folder})", None
    else:
        from accel.rtl import simdevice

        qm = load_model(simdevice.model_path(args.overlay) if args.overlay and not args.model
                        else _model_path(args))
        sim_overlay, meta = simdevice.sim_overlay(qm, folder=args.overlay,
                                                  simulator=args.simulator)
        acc = driver.Accelerator(sim_overlay, meta, allocate=sim_overlay.allocate,
                                 timeout_s=args.timeout, batch=args.batch)
        where = f"simulated device ({args.simulator} RTL simulation, {sim_overlay.device.rtl_dir})"
    images = data.images_for(qm, args.images, args.dataset)
    x, y, name = images.x, images.y, images.dataset
    t0 = time.perf_counter()
    res = acc.run(x)
    wall = time.perf_counter() - t0
    mismatches = against_golden("driver", qm, x, res.codes).mismatched_images
    acc_pct = float((res.labels == y).mean()) * 100
    summary = {"board": args.board, "device": where, "model": str(qm.path), "dataset": name,
               "images": len(y), "predictions": res.labels.tolist(), "labels": y.tolist(),
               "accuracy": acc_pct / 100, "golden_mismatches": mismatches,
               "host_seconds": round(wall, 3), "host_images_per_s": len(y) / wall}
    if sim_overlay is not None:
        st = sim_overlay.stats()
        summary["simulated"] = st
    if args.json:
        print(json.dumps(summary, indent=1))
        return 1 if mismatches else 0
    shown = 32
    print(f"{where}: {len(y)} {name} test images")
    print("predicted: " + " ".join(res.names[:shown]) + (" ..." if len(y) > shown else ""))
    names = qm.class_names  # a label past them (a dataset with more classes): its number
    print("label:     " + " ".join(str(names[int(v)]) if int(v) < len(names) else str(int(v))
                                   for v in y[:shown])
          + (" ..." if len(y) > shown else ""))
    print(f"accuracy: {acc_pct:.2f} % ({int((res.labels == y).sum())}/{len(y)}); golden model: "
          f"{mismatches} mismatching images")
    if sim_overlay is not None:
        print(f"simulated: {st['images_per_s']:.0f} images/s at {st['clock_mhz']:g} MHz "
              f"(II {st['ii_cycles']:.0f} cycles, latency {st['latency_cycles']} cycles; "
              f"{st['cycles']} cycles for the {st['images']} images)")
    print(f"host wall time: {wall:.2f} s ({len(y) / wall:.1f} images/s"
          + (", the simulation's)" if sim_overlay is not None else ", DMA and driver included)"))
    return 1 if mismatches else 0


def cmd_compress(args) -> int:
    from accel.compress.pipeline import CompressConfig, compress
    from accel.compress.prune import parse_layer_targets

    cfg = CompressConfig(
        sparsity=args.sparsity, share_bits=args.share_bits, scope=args.scope,
        layer_sparsity=parse_layer_targets(args.layer_sparsity), min_density=args.min_density,
        stages=args.stages, prune_steps=args.prune_steps, share_steps=args.share_steps,
        lr=args.lr, share_lr=args.share_lr, batch_size=args.batch_size, gap_bits=args.gap_bits,
        train_images=args.train_images, eval_images=args.eval_images, seed=args.seed,
        threads=args.threads, max_drop=args.max_drop).check()
    if args.structural:
        from accel.compress.structural import write_estimates

        print(write_estimates(args.structural, 1 - cfg.sparsity, cfg.share_bits, args.out,
                              gap_bits=cfg.gap_bits, force=args.force), end="")
        return 0
    from accel.compress.pipeline import AccuracyDropped

    try:
        rep = compress(_model_path(args), args.out, cfg, epochs=args.epochs,
                       log=(lambda *a: None) if args.quiet else print, force=args.force)
    except AccuracyDropped as exc:  # the input was fine, the result is not: exit 1, one line
        print(f"accel: compress rejected: {exc}", file=sys.stderr)
        return 1
    t, acc = rep["bytes"], rep["accuracy"]
    print(f"{rep['out']}: {t['huffman']:,} bytes ({rep['ratio_vs_float32']:.1f}x vs float32 "
          f"{t['float32']:,} B, {rep['ratio_vs_quantized']:.1f}x vs quantized {t['quantized']:,} B), "
          f"density {rep['density']:.3f}, golden accuracy {acc['huffman'] * 100:.2f} % of "
          f"{rep['test_images']} test images; model.onnx + model.pt, weights.adc, report.md, "
          "accuracy_vs_size.png")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="accel", description="Quantized SqueezeNet -> verified Zynq accelerator. "
                "`accel COMMAND --help` shows a command's options, defaults and examples; the same "
                "steps from Python: import accel; m = accel.load(); m.predict(...) (README: API).",
                epilog=EXIT_CODES)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="quantization-aware training (Brevitas)")
    t.add_argument("--model", default="tiny-mnist", help="network from the zoo: tiny-mnist, "
                   "squeezenet1_0, squeezenet1_1 (and -simple-bypass / -complex-bypass), "
                   "squeezenet-meta")
    t.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist or folder:PATH (one "
                   "subfolder per class; the split and class names are printed and recorded)")
    t.add_argument("--split", type=_fractions, default=None, metavar="TRAIN,VAL,TEST",
                   help="folder datasets: split fractions (default 0.8,0.1,0.1, per class, "
                   "seeded); MNIST and Fashion-MNIST have fixed splits")
    t.add_argument("--wbits", type=int, default=8, help="weight bits (2-8)")
    t.add_argument("--abits", type=int, default=8, help="activation bits (2-8)")
    t.add_argument("--bbits", type=int, default=32, help="bias bits (the accumulator's scale)")
    t.add_argument("--float", action="store_true", help="train a float reference (no export)")
    t.add_argument("--epochs", type=config.cli_int(1, 10_000), default=None,
                   help="quantization-aware epochs (default: auto, at least 100 steps and 2 "
                   "epochs)")
    t.add_argument("--float-epochs", type=config.cli_int(0, 10_000), default=None,
                   help="float pre-training epochs before QAT, where the net learns (default: "
                   "auto, at least 450 steps, at most 60 epochs)")
    t.add_argument("--batch-size", type=config.cli_int(1, 65_536), default=None,
                   help="default: auto, 16-128 by the training-set size (small sets want "
                   "small batches)")
    t.add_argument("--lr", type=config.cli_number(0, 10, above=True), default=0.004,
                   help="peak learning rate (one-cycle)")
    t.add_argument("--qat-lr", type=config.cli_number(0, 10, above=True), default=None,
                   help="QAT peak learning rate (default: --lr/10 after pre-training, else --lr)")
    t.add_argument("--no-augment", action="store_true",
                   help="no random shifts of the training images")
    t.add_argument("--seed", type=config.cli_int(0, 2**32 - 1), default=0,
                   help="initialization, shuffling, augmentation and folder split")
    t.add_argument("--size", type=_size, default=None, help="HxW input size (default: native: "
                   "28x28 for the MNISTs, a folder's own (most common) image size; other sizes "
                   "are resized bilinearly and the count printed)")
    t.add_argument("--channels", type=int, choices=(1, 3), default=None,
                   help="1 (grey) or 3 (RGB); default: the dataset's (a folder's majority)")
    t.add_argument("--dropout", type=float, default=None, help="default: the model's")
    meta = t.add_argument_group("zoo options (squeezenet-meta metaparameters; bypass for any "
                                "model); each defaults to the model's own value")
    meta.add_argument("--base-e", type=int, default=None, help="expand filters of the first fire")
    meta.add_argument("--incr-e", type=int, default=None, help="expand filters added every FREQ fires")
    meta.add_argument("--pct-3x3", type=float, default=None, help="share of 3x3 expand filters")
    meta.add_argument("--freq", type=int, default=None, help="fires between width increments")
    meta.add_argument("--sr", type=float, default=None, help="squeeze ratio (squeeze / expand)")
    meta.add_argument("--num-fires", type=int, default=None, help="number of fire modules")
    meta.add_argument("--bypass", choices=("none", "simple", "complex"), default=None,
                      help="residual bypass around fire modules")
    t.add_argument("--init", default=None, help="start from this run's weights (default: "
                   "random initialization)")
    t.add_argument("--out", required=True, help="run directory")
    t.add_argument("--force", action="store_true",
                   help="train into an existing --out that accel train did not create")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("export", help="run directory -> quantized model file (QONNX)")
    e.add_argument("run", help="run directory written by accel train")
    e.add_argument("--out", required=True, help="model file to write (.onnx)")
    e.add_argument("--force", action="store_true",
                   help="replace an existing --out (and <stem>.pt) that is not an accel model file")
    e.set_defaults(func=cmd_export)

    for name, func, helptext in (("eval", cmd_eval, "accuracy of the golden integer model"),
                                 ("verify", cmd_verify, "bit-exact comparison of levels")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--model", default=None, help=MODEL_HELP)
        s.add_argument("--dataset", default=None, help="mnist, fashion-mnist or folder:PATH "
                       "(default: the dataset the model file names)")
        s.add_argument("--split", choices=("train", "val", "test"), default="test",
                       help="which part of the dataset")
        s.add_argument("--images", type=config.cli_int(1, 10_000_000),
                       default=None if name == "eval" else 1000,
                       help="the first N images of the split"
                       + (" (default: all)" if name == "eval" else ""))
        s.add_argument("--json", action="store_true", help="print the result as JSON")
        if name == "verify":
            s.add_argument("--levels", default="torch,golden,qonnx",
                           help="comma-separated levels compared with golden: torch, golden, "
                           "qonnx, c, c-arm, hls, rtl")
            s.add_argument("--checkpoint", default=None,
                           help="training checkpoint for the torch level (default: the .pt "
                                "beside the model file)")
        s.set_defaults(func=func)

    cc = sub.add_parser("c", help="plain C99 integer inference (host demo; --arm: Zynq Cortex-A9)")
    cc.add_argument("--model", default=None, help=MODEL_HELP)
    cc.add_argument("--out", required=True, help="directory to write (replaced atomically)")
    cc.add_argument("--force", action="store_true",
                    help="replace an existing --out that is not an `accel c` output")
    cc.add_argument("--arm", action="store_true",
                    help="also build a static Cortex-A9 binary (gcc-arm-linux-gnueabihf)")
    cc.set_defaults(func=cmd_c)

    h = sub.add_parser("hls", help="hls4ml Vitis HLS project with an AXI DMA top (C-sim: "
                                   "accel verify --levels golden,hls)")
    h.add_argument("--model", default=None, help=MODEL_HELP)
    h.add_argument("--out", required=True, help="project directory to write (replaced atomically)")
    h.add_argument("--force", action="store_true",
                   help="replace an existing --out that is not an `accel hls` output")
    h.add_argument("--board", default="zybo",
                   help="zybo, zybo-z7-10 (xc7z010), zybo-z7-20, pynq-z2 (xc7z020)")
    h.add_argument("--config", default=None, help="YAML overriding accel/hls/hls.yaml "
                   "(strategy / ReuseFactor per layer, clock; default: hls.yaml as shipped)")
    h.add_argument("--tb-images", type=int, default=None, help="golden vectors in tb_data/ "
                   "(default: hls.yaml's tb_images)")
    h.add_argument("--csim", type=int, nargs="?", const=0, default=None, metavar="N",
                   help="compile the C-sim (g++, cached), run the testbench, and compare N test "
                        "images layer by layer with the golden model (default: no C-sim; "
                        "--csim alone: the testbench only)")
    h.add_argument("--vitis", action="store_true",
                   help="run build.tcl with Vitis HLS if it is on PATH (else print the command)")
    h.set_defaults(func=cmd_hls)

    def _mapping_args(p, generating=False):
        """--board, --target-fps, --fold: every RTL command maps the model onto a board."""
        when = " (when generating; not with --rtl)" if generating else ""
        p.add_argument("--board", default="zybo",
                       help=f"the board the design must fit (capacity minus the reserve in "
                       f"accel/rtl/mapper.py) and whose clock sets the rate{when}")
        p.add_argument("--target-fps", type=config.cli(config.FPS), default=None,
                       help="the cheapest design reaching this many images/s (FINN's target_fps; "
                       "default: the fastest design that fits the board)" + when)
        p.add_argument("--fold", default=None, help="fold.yaml: target_fps, clock_mhz, layers: "
                       "{name: {pe, simd, mul}} held by hand (see accel/rtl/fold.py; default: "
                       "none, the mapper chooses every layer)" + when)

    rt = sub.add_parser("rtl", help="our Verilog dataflow accelerator from the model file "
                                    "(folding: --fold YAML or --target-fps)")
    rt.add_argument("--model", default=None, help=MODEL_HELP)
    rt.add_argument("--out", required=True, help="directory to write (replaced atomically)")
    rt.add_argument("--force", action="store_true",
                    help="replace an existing --out that is not an `accel rtl` output")
    _mapping_args(rt)
    rt.add_argument("--yosys-fit", action="store_true",
                    help="synthesize the design with yosys (minutes) and, while it exceeds the "
                    "board's reserve, map again with the resource model scaled to what yosys "
                    "counted (at most 3 rounds; the rounds in OUT/yosys_fit.json)")
    rt.set_defaults(func=cmd_rtl)

    sm = sub.add_parser("sim", help="simulate the RTL on test images (cocotb): mismatches vs "
                                    "golden, latency, II, images/s, per-layer cycles")
    sm.add_argument("--model", default=None, help=MODEL_HELP)
    sm.add_argument("--rtl", default=None, help="RTL project (default: generated into the cache)")
    _mapping_args(sm, generating=True)
    sm.add_argument("--images", type=config.cli_int(1, 10_000_000), default=8,
                    help="the first N test images of the model's dataset")
    sm.add_argument("--simulator", choices=("icarus", "verilator"), default="verilator",
                    help="Verilator compiles once (cached) and runs fast; Icarus starts quickly")
    sm.add_argument("--driver", choices=("hdl", "cocotbext"), default="hdl",
                    help="hdl: HDL DMA model (fast); cocotbext: cocotbext-axi in Python")
    sm.add_argument("--valid-gaps", type=float, default=0.0, help="P(no input word) per cycle")
    sm.add_argument("--backpressure", type=float, default=0.0, help="P(READY low) per cycle")
    sm.add_argument("--seed", type=config.cli_int(0, 2**32 - 1), default=0,
                    help="seed of the random gaps and backpressure")
    sm.add_argument("--waves", action="store_true", help="write a waveform (FST/VCD)")
    sm.add_argument("--json", action="store_true", help="print the result as JSON")
    sm.add_argument("--quiet", action="store_true", help="no progress on stderr")
    sm.set_defaults(func=cmd_sim)

    es = sub.add_parser("estimate", help="resources of the RTL vs the board: the resource model "
                                         "(seconds) or --yosys synth_xilinx (minutes, exact)")
    es.add_argument("--yosys", action="store_true",
                    help="synthesize with yosys synth_xilinx: exact cell counts and the timing "
                    "proxy (LUT levels, carry chains); cached")
    es.add_argument("--model", default=None, help=MODEL_HELP)
    es.add_argument("--rtl", default=None, help="RTL project (default: generated into the cache)")
    es.add_argument("--layers", action="store_true", help="also each layer's share")
    _mapping_args(es, generating=True)
    es.add_argument("--json", action="store_true", help="print the result as JSON")
    es.add_argument("--quiet", action="store_true", help="no progress on stderr")
    es.set_defaults(func=cmd_estimate)

    b = sub.add_parser("build", help="whole chain -> Zynq overlay in OUT/BOARD (cached stages; "
                                     "exit 3 when vitis_hls/vivado are missing: see --help)",
                       description="model -> golden vectors -> HLS project + C-sim check (or RTL "
                       "+ simulation) -> Vitis HLS -> Vivado -> overlay (bit, hwh, metadata, "
                       "driver) in OUT/BOARD, with report.md. Stages are cached by content hash "
                       "and resume after an interruption. Every option can also come from a "
                       "YAML file (--config: one key per option, named like it with '_' for '-' "
                       "and start for --from, e.g. board: zybo, until: hls, accuracy_images: 100, "
                       "fold: {target_fps: 2000, layers: {conv1: {pe: 4}}}); options given on "
                       "the command line override the file's keys.\n\n" + EXIT_CODES)
    dflt = {k: f.default for k, f in config.BuildConfig.model_fields.items()}
    # SUPPRESS: an option not given is absent from args, so --config's value stands
    b.add_argument("--config", default=None, metavar="YAML", help="build.yaml with the keys "
                   + ", ".join(dflt) + "; relative paths are from the file's folder; options "
                   "given on the command line override its keys (default: none, the options "
                   "below)")
    b.add_argument("--board", default=argparse.SUPPRESS, help="zybo, zybo-z7-10, zybo-z7-20, "
                   "pynq-z2 (accel/boards/*.yaml); required here or in --config")
    b.add_argument("--model", default=argparse.SUPPRESS, help=MODEL_HELP)
    b.add_argument("--backend", choices=("hls", "rtl"), default=argparse.SUPPRESS,
                   help=f"hls4ml + Vitis HLS, or our Verilog (default: {dflt['backend']})")
    b.add_argument("--from", "--start", dest="start", default=argparse.SUPPRESS,
                   metavar="STAGE", help="resume at STAGE: the stages before it are not run and "
                   "must be done already for these options (else exit 2 naming the first that is "
                   "not); build.yaml key: start (default: the first stage)")
    b.add_argument("--until", default=argparse.SUPPRESS, metavar="STAGE",
                   help="stop after STAGE: model, golden, hls|rtl, vitis (hls), vivado, overlay "
                   "(default: the whole flow)")
    b.add_argument("--out", default=argparse.SUPPRESS,
                   help=f"build folder (default: {dflt['out']})")
    b.add_argument("--force", action="store_true", default=argparse.SUPPRESS,
                   help="build into an existing OUT/BOARD that accel build did not create")
    b.add_argument("--images", type=config.cli_int(1, 100_000), default=argparse.SUPPRESS,
                   help=f"golden vectors checked at each level (default: {dflt['images']})")
    b.add_argument("--dataset", default=argparse.SUPPRESS, help="images for the golden vectors "
                   "and the accuracy: mnist, fashion-mnist or folder:PATH; a missing dataset "
                   "stops the build, never replaced by random pixels (default: the dataset the "
                   "model file names)")
    b.add_argument("--accuracy-images", type=config.cli_int(0, 10_000_000),
                   default=argparse.SUPPRESS, help="test images for the golden accuracy in the "
                   f"report (default: {dflt['accuracy_images']})")
    b.add_argument("--fold", default=argparse.SUPPRESS, metavar="YAML",
                   help="rtl backend: fold.yaml (target_fps, clock_mhz, layers: {name: {pe, "
                   "simd}}; see accel/rtl/fold.py), in build.yaml also inline as a mapping; the "
                   "fold chosen is written to OUT/BOARD/rtl/fold.json (default: automatic)")
    b.add_argument("--target-fps", type=config.cli(config.FPS), default=argparse.SUPPRESS,
                   help="rtl backend: the images/s the automatic folding aims for, over the "
                   "fold's own (default: the fold's, else accel/rtl/fold.py's)")
    b.add_argument("--clock-mhz", type=config.cli(config.CLOCK_MHZ), default=argparse.SUPPRESS,
                   help="the one clock of the build: the fold, the HLS clock, Vivado's fabric "
                   "clock (default: the fold's or HLS config's, else the board's)")
    b.add_argument("--hls-config", default=argparse.SUPPRESS, metavar="YAML",
                   help="hls backend: YAML over accel/hls/hls.yaml (strategy / ReuseFactor per "
                   "layer, multipliers per board), in build.yaml also inline as a mapping "
                   "(default: hls.yaml as shipped)")
    b.set_defaults(func=cmd_build)

    z = sub.add_parser("compress", help="Deep Compression: prune, share weights, Huffman-code "
                                         "(the result is an ordinary model file)")
    z.add_argument("--model", default=None, help="model file with its .pt checkpoint beside it "
                   "(default: the embedded tiny-mnist model)")
    z.add_argument("--sparsity", type=float, default=0.6, help="fraction of weights pruned, [0, 1)")
    z.add_argument("--share-bits", type=int, default=4, help="B: 2^B shared weights per layer (1-8)")
    z.add_argument("--out", required=True, help="directory to write (replaced atomically)")
    z.add_argument("--force", action="store_true",
                   help="replace an existing --out that is not an `accel compress` output")
    z.add_argument("--epochs", type=config.cli_number(0, 10_000, above=True), default=None,
                   help="fine-tuning budget in passes over the training images (2/3 pruning, "
                        "1/3 sharing); overrides --prune-steps/--share-steps (default: the steps)")
    z.add_argument("--scope", choices=("global", "layer"), default="global",
                   help="one magnitude threshold for all layers, or the sparsity in each layer")
    z.add_argument("--layer-sparsity", default=None, metavar="NAME=S,...",
                   help="per-layer sparsity overrides, e.g. conv1=0.2,conv10=0.5 (default: none)")
    z.add_argument("--min-density", type=float, default=0.05,
                   help="global scope: keep at least this fraction of every layer")
    z.add_argument("--stages", type=int, default=4, help="gradual pruning steps (cubic schedule)")
    z.add_argument("--prune-steps", type=int, default=200, help="retraining steps per pruning step")
    z.add_argument("--share-steps", type=int, default=300, help="centroid fine-tuning steps")
    z.add_argument("--lr", type=config.cli_number(0, 10, above=True), default=3e-4,
                   help="weights/biases learning rate")
    z.add_argument("--share-lr", type=config.cli_number(0, 10, above=True), default=0.05,
                   help="centroid learning rate (codes)")
    z.add_argument("--batch-size", type=int, default=128, help="fine-tuning batch size")
    z.add_argument("--gap-bits", type=int, default=4, help="relative index bits (top value = filler)")
    z.add_argument("--train-images", type=int, default=None, help="fine-tune on the first N "
                   "(default: all)")
    z.add_argument("--eval-images", type=int, default=None, help="accuracy on the first N test "
                   "images (default: all)")
    z.add_argument("--seed", type=config.cli_int(0, 2**32 - 1), default=0,
                   help="sampling of the fine-tuning batches")
    z.add_argument("--threads", type=config.cli_int(1, 256), default=1, help="torch CPU threads")
    z.add_argument("--max-drop", type=config.cli_number(0, 100, unit=" (accuracy points)"),
                   default=1.0, metavar="POINTS", help="refuse (exit 1) a result whose golden "
                   "test accuracy is more than POINTS percentage points below the input model's; "
                   "it is kept in OUT.rejected")
    z.add_argument("--structural", default=None, metavar="MODELS",
                   help="instead: sizes of zoo models (e.g. squeezenet1_0,squeezenet1_1) at "
                        "--sparsity/--share-bits from their structure alone (synthetic weights; "
                        "default: compress --model)")
    z.add_argument("--quiet", action="store_true", help="no progress lines")
    z.set_defaults(func=cmd_compress)

    r = sub.add_parser("run", help="PYNQ driver: inference on the board, or --board sim (the "
                                   "RTL simulation behind the same driver)")
    r.add_argument("--board", required=True, help="sim, or a board (zybo, zybo-z7-10, zybo-z7-20, "
                   "pynq-z2): on the board itself, with pynq installed")
    r.add_argument("--model", default=None, help="model file (default: embedded tiny-mnist; on a "
                   "board: the overlay's model.onnx)")
    r.add_argument("--images", type=config.cli_int(1, 10_000_000), default=16,
                   help="first N test images of the model's dataset")
    r.add_argument("--dataset", default=None, help="mnist, fashion-mnist or folder:PATH, resized "
                   "to the model's input (default: the dataset the model file names)")
    r.add_argument("--overlay", default=None, metavar="DIR", help="board: the overlay folder "
                   "(default build/BOARD/overlay); sim: an RTL folder or `accel build --backend "
                   "rtl` folder (default: generate the RTL for the model, cached)")
    r.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator",
                   help="--board sim: the RTL simulator behind the simulated device")
    r.add_argument("--batch", type=config.cli_int(1, 65_536), default=256,
                   help="images per DMA transfer")
    r.add_argument("--timeout", type=config.cli_number(0, 3600, above=True, unit=" (s)"),
                   default=2.0, help="seconds per DMA wait")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.set_defaults(func=cmd_run)

    i = sub.add_parser("info", help="layers of a model file")
    i.add_argument("--model", default=None, help=MODEL_HELP)
    i.set_defaults(func=cmd_info)

    # a command's --help: its one-line help as description (unless it has one), then examples
    for name, cmd in sub.choices.items():
        cmd.description = cmd.description or next(
            a.help for a in sub._choices_actions if a.dest == name)
        cmd.epilog = "\n\n".join(filter(None, [cmd.epilog, "examples:\n" + "\n".join(
            "  " + e for e in EXAMPLES[name])]))
    return p


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


if __name__ == "__main__":
    sys.exit(main())
