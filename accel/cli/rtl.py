"""The RTL backend: `accel rtl` (generate and fold), `accel sim` (cocotb simulation),
`accel estimate` (resource model or yosys); --board/--target-fps/--fold are shared by the three."""

import json

from accel.cli.common import MODEL_HELP, _load
from accel.core import config


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


def add_rtl(sub) -> None:
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


def add_sim(sub) -> None:
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


def add_estimate(sub) -> None:
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
