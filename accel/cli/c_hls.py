"""The C and HLS backends: `accel c` (plain C99 inference) and `accel hls` (hls4ml project, C-sim,
Vitis HLS)."""

from accel.cli.common import MODEL_HELP, _load
from accel.core.errors import AccelError


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


def add_c(sub) -> None:
    cc = sub.add_parser("c", help="plain C99 integer inference (host demo; --arm: Zynq Cortex-A9)")
    cc.add_argument("--model", default=None, help=MODEL_HELP)
    cc.add_argument("--out", required=True, help="directory to write (replaced atomically)")
    cc.add_argument("--force", action="store_true",
                    help="replace an existing --out that is not an `accel c` output")
    cc.add_argument("--arm", action="store_true",
                    help="also build a static Cortex-A9 binary (gcc-arm-linux-gnueabihf)")
    cc.set_defaults(func=cmd_c)


def add_hls(sub) -> None:
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
