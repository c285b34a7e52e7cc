"""accel_mvau's multiplier styles in yosys: LUT/FF/DSP48E1 of one MVAU per style ("dsp", "pack",
"lut") at a few PE x SIMD and bit widths, by `synth_xilinx -family xc7` (as `accel estimate`).

    .venv/bin/python benchmarks/mvau_styles.py [--quick] [--out benchmarks/results/mvau_styles.json]

Checks (exit 1 when one fails): the DSP48E1 count is accel.rtl.mul.dsps (a packed unit
ceil(PE/L)*SIMD when every group has two or more lanes; the lone product of a partial group follows
yosys' 9-bit rule), and the "lut" style has none. Each unit: BEATS 1, IN_C = 2*SIMD, OUT_C = 2*PE
(two input and two output folds), weight and bias ROMs drawn from a fixed seed (the same for
every style of a shape), 8-bit ReLU output.
"""

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel.core import process  # noqa: E402
from accel.rtl import estimate, mul  # noqa: E402
from accel.rtl.fold import MUL_STYLES  # noqa: E402

LIB = ROOT / "accel" / "rtl" / "lib"
# (PE, SIMD, IN_BITS, W_BITS, IN_SIGNED): 8x8 (2 lanes, one with a partial group), 4x4 (3 lanes;
# signed codes: the lone product of a partial group stays in LUTs), 2x2 signed (6 lanes)
SHAPES = [(4, 2, 8, 8, 0), (8, 4, 8, 8, 0), (7, 3, 8, 8, 0), (6, 2, 4, 4, 0), (7, 2, 4, 4, 1),
          (6, 2, 2, 2, 1), (8, 2, 4, 8, 0)]
QUICK = [(4, 2, 8, 8, 0), (7, 2, 4, 4, 1)]


def unit(work: Path, pe, simd, in_bits, w_bits, signed, style) -> str:
    """The top (one accel_mvau) and its ROM files in work/; returns the top's Verilog."""
    in_c, out_c = 2 * simd, 2 * pe
    rng = random.Random(f"{pe} {simd} {in_bits} {w_bits} {signed}")  # the same for every style
    rom_bits = pe * simd * w_bits
    wrom = [rng.getrandbits(rom_bits) for _ in range(4)]  # NF*SF = 4 words
    brom = [rng.getrandbits(8 * pe) for _ in range(2)]
    digits = -(-rom_bits // 4)
    (work / "w.mem").write_text("".join(f"{w:0{digits}x}\n" for w in wrom))
    (work / "b.mem").write_text("".join(f"{b:0{2 * pe}x}\n" for b in brom))
    in_max = (1 << (in_bits - (1 if signed else 0)))
    acc_w = (in_c * in_max << (w_bits - 1)).bit_length() + 10
    params = dict(BEATS=1, IN_C=in_c, IN_BITS=in_bits, IN_SIGNED=signed, OUT_C=out_c, PE=pe,
                  SIMD=simd, W_BITS=w_bits, B_BITS=8, ACC_W=acc_w, OUT_SHIFT=4, RELU=1,
                  OUT_BITS=8, LO=0, HI=255, **mul.params(style, in_bits, w_bits))
    plist = ", ".join(f".{k}({v})" for k, v in params.items())
    return f"""module top (input wire clk, input wire rst_n,
    input wire [{in_c * in_bits - 1}:0] s_data, input wire s_last, input wire s_valid,
    output wire s_ready, output wire [{out_c * 8 - 1}:0] m_data, output wire m_last,
    output wire m_valid, input wire m_ready);
    accel_mvau #({plist}, .WEIGHT_FILE("w.mem"), .BIAS_FILE("b.mem")) u (.clk(clk),
        .rst_n(rst_n), .s_data(s_data), .s_pad(1'b0), .s_last(s_last), .s_valid(s_valid),
        .s_ready(s_ready), .m_data(m_data), .m_last(m_last), .m_valid(m_valid), .m_ready(m_ready));
endmodule
"""


def synth(shape, style) -> dict:
    pe, simd, in_bits, w_bits, signed = shape
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "top.v").write_text(unit(work, *shape, style))
        files = " ".join(str(LIB / f) for f in ("accel_requant.v", "accel_mvau.v"))
        script = (f"read_verilog -defer {files} top.v\n"
                  "synth_xilinx -family xc7 -top top -noiopad\nstat -tech xilinx\n")
        (work / "y.ys").write_text(script)
        t0 = time.time()
        proc = process.run(["yosys", "-q", "-l", "y.log", "-s", "y.ys"], cwd=work,
                           capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"yosys failed on {shape} {style}: {proc.stderr.strip()[-400:]}")
        log = (work / "y.log").read_text()
    cells = estimate.module_cells(estimate.parse_modules(log), "top")
    s = estimate.summarize(cells)
    want = mul.dsps(pe, simd, style, in_bits, w_bits, bool(signed))
    return {"pe": pe, "simd": simd, "in_bits": in_bits, "w_bits": w_bits,
            "in_signed": bool(signed), "mul": style,
            "lanes": mul.lanes(in_bits, w_bits) if style == "pack" else 1,
            "LUT": s["LUT"], "FF": s["FF"], "DSP": s["DSP"], "CARRY4": s["CARRY4"],
            "BRAM36": s["BRAM36"], "dsp_model": want, "dsp_ok": s["DSP"] == want,
            "yosys_seconds": round(time.time() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="two shapes only")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "mvau_styles.json"))
    args = ap.parse_args()
    runs = []
    for shape in QUICK if args.quick else SHAPES:
        for style in MUL_STYLES:
            r = synth(shape, style)
            runs.append(r)
            print(json.dumps(r), flush=True)
    version = process.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
    result = {"tool": f"{version} synth_xilinx -family xc7 (hierarchy kept, as accel estimate)",
              "unit": "accel_mvau BEATS 1, IN_C 2*SIMD, OUT_C 2*PE, ROMs from a fixed seed",
              "runs": runs, "dsp_model_ok": all(r["dsp_ok"] for r in runs)}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    if not result["dsp_model_ok"]:
        sys.exit("DSP48E1 counts differ from accel.rtl.mul.dsps: "
                 + str([(r["pe"], r["simd"], r["mul"], r["DSP"], r["dsp_model"])
                        for r in runs if not r["dsp_ok"]]))


if __name__ == "__main__":
    main()
