"""One C function per layer (and the const weight and bias arrays of the convs), plus the
arithmetic runtime they call.

Layout: every tensor is stored channels-last (H, W, C), as the hardware streams it. Convs with many
output channels (>= OINNER_MIN) loop over them innermost, weights stored (KH, KW, I, O): one input
code times a contiguous row of weights, which compilers vectorize, and zero inputs (frequent after
ReLU) skip their row. Narrow convs keep (O, KH, KW, I): one kernel row of one output channel and the
input pixels under it are both contiguous (small kernels fully unrolled).

Arithmetic, mirroring accel.core.arith and the golden functions of accel.core.kinds:
- conv: sum of products in an int32 accumulator (int64 when it needs more than 31 bits, see
  conv_acc_type), products and bias aligned to acc_frac by exact multiplication by 2^k;
- requantize: floor shift written portably (C leaves >> of negative values implementation-defined),
  round half to even on the remainder, then ReLU and saturation as one clamp;
- max-pool: windows clipped to the input (padding and ceil-mode overhang never win);
- concat/add: exact alignment to the finer scale by multiplication by 2^k;
- gap: sum in int64, exact rational round-half-even with C99's truncating division corrected to
  floor division (golden's floor_divide + remainder).
"""

from __future__ import annotations

import numpy as np

from accel.cbackend.ctype import ACC32_MAX_BITS, ctext, ctype_for, lit
from accel.cbackend.plan import Plan, Tensor
from accel.core import arith
from accel.core.ir import Layer, QType

OINNER_MIN = 8  # convs with at least this many output channels loop over them innermost
UNROLL_MAX = 32  # kernels with at most this many products per output are written out unrolled

RUNTIME = r"""
/* The arithmetic contract (design.md section 3), in portable C99. */

/* floor(x / 2^s) for 0 <= s < width: C99 leaves >> of a negative value implementation-defined,
 * so negative values go through ~x = -x - 1 >= 0, where floor(x / 2^s) = ~(~x >> s). */
static inline int32_t floor_shr32(int32_t x, int s) { return x >= 0 ? x >> s : ~((~x) >> s); }
static inline int64_t floor_shr64(int64_t x, int s) { return x >= 0 ? x >> s : ~((~x) >> s); }

/* x * 2^-s rounded half to even, 1 <= s <= 30 (|x| < 2^30: the accumulator widths guarantee it). */
static inline int32_t rshift_rne32(int32_t x, int s)
{
    const int32_t q = floor_shr32(x, s);
    const int32_t r = x - q * ((int32_t)1 << s); /* in [0, 2^s) */
    const int32_t half = (int32_t)1 << (s - 1);
    return q + (r > half || (r == half && q % 2 != 0));
}

/* the same in 64 bits, 1 <= s <= 62 */
static inline int64_t rshift_rne64(int64_t x, int s)
{
    const int64_t q = floor_shr64(x, s);
    const int64_t r = x - q * ((int64_t)1 << s);
    const int64_t half = (int64_t)1 << (s - 1);
    return q + (r > half || (r == half && q % 2 != 0));
}

/* num / den rounded half to even for den > 0: C99 division truncates, golden floors. */
static inline int64_t div_rne64(int64_t num, int64_t den)
{
    int64_t q = num / den, r = num % den;
    if (r < 0) {
        q -= 1;
        r += den;
    }
    return q + (2 * r > den || (2 * r == den && q % 2 != 0));
}

static inline int32_t clamp32(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : x > hi ? hi : x; }
static inline int64_t clamp64(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }
"""


def _requant_expr(acc: str, acc_ctype: str, shift: int, lo: int, hi: int) -> str:
    """C expression: requantize accumulator `acc` by `shift` fraction bits (round half even), then
    clamp to [lo, hi] (ReLU already folded into lo). accel.core.kinds refuses shifts int64 cannot
    take."""
    if shift <= 0:
        return f"clamp64((int64_t){acc} * {lit(1 << -shift, 'int64_t')}, {lit(lo, 'int64_t')}, " \
               f"{lit(hi, 'int64_t')})"
    if acc_ctype == "int32_t" and shift <= 30:
        return f"clamp32(rshift_rne32({acc}, {shift}), {lit(lo)}, {lit(hi)})"
    return f"clamp64(rshift_rne64((int64_t){acc}, {shift}), {lit(lo, 'int64_t')}, " \
           f"{lit(hi, 'int64_t')})"


def _range(q: QType, relu: bool = False) -> tuple[int, int]:
    lo, hi = arith.code_range(q.bits, q.signed, q.narrow)
    return (max(lo, 0) if relu else lo), hi


def _array(name: str, ctype: str, values, comment: str) -> str:
    vals = [lit(v, ctype) if ctype == "int64_t" else str(int(v)) for v in np.ravel(values)]
    lines = [", ".join(vals[i:i + 16]) for i in range(0, len(vals), 16)]
    body = ",\n    ".join(lines)
    return f"/* {comment} */\nstatic const {ctype} {name}[{len(vals)}] = {{\n    {body}\n}};\n"


def conv(k: int, layer: Layer, x: Tensor, y: Tensor, plan_: Plan) -> tuple[str, str]:
    o, i, kh, kw = layer.weight.shape
    _, h, w = x.shape
    _, oh, ow = y.shape
    sh, sw = layer.stride
    pt, pl, _, _ = layer.pads
    acc_t, width = plan_.acc[layer.name]
    oinner = o >= OINNER_MIN
    # output-channel-inner: (KH, KW, I, O), one input code times a row of O weights;
    # else (O, KH, KW, I): one kernel row of one output channel is contiguous, like the input's
    wt = layer.weight.transpose(2, 3, 1, 0) if oinner else layer.weight.transpose(0, 2, 3, 1)
    w_ctype = ctype_for(int(wt.min(initial=0)), int(wt.max(initial=0)), signed_only=True)
    consts = _array(f"L{k}_w", w_ctype, wt, f"{ctext(layer.name)} weights {layer.wtype.describe()}, "
                    f"({'KH, KW, I, O' if oinner else 'O, KH, KW, I'}) = {tuple(wt.shape)}")
    acc_shift, bias_shift = layer.acc_shift, layer.bias_shift
    acc_expr = "acc" if acc_shift == 0 else f"acc * {lit(1 << acc_shift, acc_t)}"
    if layer.bias is not None:
        b = layer.bias
        b_ctype = ctype_for(int(b.min(initial=0)), int(b.max(initial=0)), signed_only=True)
        consts += _array(f"L{k}_b", b_ctype, b, f"{ctext(layer.name)} bias {layer.btype.describe()}")
        bias = f"({acc_t})L{k}_b[o]" + ("" if bias_shift == 0 else
                                         f" * {lit(1 << bias_shift, acc_t)}")
        acc_expr = f"{acc_expr} + {bias}"
    lo, hi = _range(layer.out, layer.relu)
    rq = _requant_expr("acc", acc_t, layer.out_shift, lo, hi)
    head = f"""
/* {ctext(layer.name)}: conv {kh}x{kw} stride {sh}x{sw} pads {tuple(layer.pads)}, {x.shape} -> {y.shape}
 * accumulator {acc_t} ({width} bits) at 2^-{layer.acc_frac}, out {layer.out.describe()}{' relu' if layer.relu else ''} */
static void layer{k}(const {x.ctype} *restrict x, {y.ctype} *restrict y)
{{
    for (int oy = 0; oy < {oh}; oy++) {{
        const int iy0 = oy * {sh} - {pt};
        const int ky0 = iy0 < 0 ? -iy0 : 0;
        const int ky1 = iy0 + {kh} > {h} ? {h} - iy0 : {kh};
        for (int ox = 0; ox < {ow}; ox++) {{
            const int ix0 = ox * {sw} - {pl};
            const int kx0 = ix0 < 0 ? -ix0 : 0;
            const int kx1 = ix0 + {kw} > {w} ? {w} - ix0 : {kw};
            {y.ctype} *yp = y + (oy * {ow} + ox) * {o};"""
    if oinner:
        return consts, head + f"""
            {acc_t} accs[{o}];
            for (int o = 0; o < {o}; o++)
                accs[o] = 0;
            for (int ky = ky0; ky < ky1; ky++)
                for (int kx = kx0; kx < kx1; kx++) {{
                    const {x.ctype} *xp = x + ((iy0 + ky) * {w} + ix0 + kx) * {i};
                    const {w_ctype} *wp = L{k}_w + (ky * {kw} + kx) * {i * o};
                    for (int i = 0; i < {i}; i++) {{
                        const {acc_t} xv = xp[i];
                        if (xv == 0)
                            continue; /* ReLU outputs are often 0: skip the weight row */
                        for (int o = 0; o < {o}; o++)
                            accs[o] += xv * wp[i * {o} + o];
                    }}
                }}
            for (int o = 0; o < {o}; o++) {{
                {acc_t} acc = accs[o];
                acc = {acc_expr};
                yp[o] = ({y.ctype}){rq};
            }}
        }}
    }}
}}
"""
    pad = " " * 20
    if kh * kw * i <= UNROLL_MAX:  # small kernels (conv1 with few input channels): no loop at all
        terms = [f"({acc_t})xp[{ky * w * i + j}] * wp[{ky * kw * i + j}]"
                 for ky in range(kh) for j in range(kw * i)]
        interior = f"{pad}acc = " + f"\n{pad}    + ".join(terms) + ";"
    else:
        interior = (f"{pad}for (int ky = 0; ky < {kh}; ky++)\n"
                    f"{pad}    for (int j = 0; j < {kw * i}; j++)\n"
                    f"{pad}        acc += ({acc_t})xp[ky * {w * i} + j] * wp[ky * {kw * i} + j];")
    body = head + f"""
            const int n = (kx1 - kx0) * {i}; /* one kernel row: contiguous in x and in w */
            const int full = ky0 == 0 && ky1 == {kh} && kx0 == 0 && kx1 == {kw};
            for (int o = 0; o < {o}; o++) {{
                {acc_t} acc = 0;
                if (full) {{ /* interior: the whole kernel in bounds */
                    const {x.ctype} *xp = x + (iy0 * {w} + ix0) * {i};
                    const {w_ctype} *wp = L{k}_w + o * {kh * kw * i};
{interior}
                }} else if (n > 0) {{
                    for (int ky = ky0; ky < ky1; ky++) {{
                        const {x.ctype} *xp = x + ((iy0 + ky) * {w} + ix0 + kx0) * {i};
                        const {w_ctype} *wp = L{k}_w + ((o * {kh} + ky) * {kw} + kx0) * {i};
                        for (int j = 0; j < n; j++)
                            acc += ({acc_t})xp[j] * wp[j];
                    }}
                }}
                acc = {acc_expr};
                yp[o] = ({y.ctype}){rq};
            }}
        }}
    }}
}}
"""
    return consts, body


def maxpool(k: int, layer: Layer, x: Tensor, y: Tensor) -> str:
    c, h, w = x.shape
    _, oh, ow = y.shape
    (kh, kw), (sh, sw) = layer.kernel, layer.stride
    pt, pl, _, _ = layer.pads
    return f"""
/* {ctext(layer.name)}: max-pool {kh}x{kw} stride {sh}x{sw} pads {tuple(layer.pads)}{' ceil' if layer.ceil_mode else ''}, {x.shape} -> {y.shape}
 * windows are clipped to the input: padding and ceil-mode overhang never win */
static void layer{k}(const {x.ctype} *restrict x, {y.ctype} *restrict y)
{{
    for (int oy = 0; oy < {oh}; oy++) {{
        const int iy0 = oy * {sh} - {pt};
        const int y0 = iy0 < 0 ? 0 : iy0, y1 = iy0 + {kh} > {h} ? {h} : iy0 + {kh};
        for (int ox = 0; ox < {ow}; ox++) {{
            const int ix0 = ox * {sw} - {pl};
            const int x0 = ix0 < 0 ? 0 : ix0, x1 = ix0 + {kw} > {w} ? {w} : ix0 + {kw};
            {y.ctype} *yp = y + (oy * {ow} + ox) * {c};
            const {x.ctype} *first = x + (y0 * {w} + x0) * {c};
            for (int ch = 0; ch < {c}; ch++)
                yp[ch] = first[ch];
            for (int iy = y0; iy < y1; iy++)
                for (int ix = x0; ix < x1; ix++) {{
                    const {x.ctype} *xp = x + (iy * {w} + ix) * {c};
                    for (int ch = 0; ch < {c}; ch++)
                        if (xp[ch] > yp[ch])
                            yp[ch] = xp[ch];
                }}
        }}
    }}
}}
"""


def concat(k: int, layer: Layer, xs: list, y: Tensor) -> str:
    c, h, w = y.shape
    frac = layer.acc_frac
    args = ", ".join(f"const {x.ctype} *restrict x{j}" for j, x in enumerate(xs))
    loops, off = [], 0
    for j, (x, shift) in enumerate(zip(xs, layer.in_shifts)):
        mul = "" if shift == 0 else f" * {lit(1 << shift, y.ctype)}"
        loops.append(f"        for (int ch = 0; ch < {x.shape[0]}; ch++)\n"
                     f"            y[p * {c} + {off} + ch] = ({y.ctype})(({y.ctype})x{j}[p * {x.shape[0]} + ch]{mul});")
        off += x.shape[0]
    loops_text = "\n".join(loops)
    return f"""
/* {ctext(layer.name)}: channel concat aligned to 2^-{frac} (exact left shifts), out {layer.out.describe()} */
static void layer{k}({args}, {y.ctype} *restrict y)
{{
    for (int p = 0; p < {h * w}; p++) {{
{loops_text}
    }}
}}
"""


def add(k: int, layer: Layer, a: Tensor, b: Tensor, y: Tensor) -> str:
    frac = layer.acc_frac
    acc_t = "int32_t" if layer.acc_bits <= ACC32_MAX_BITS else "int64_t"
    ma, mb = ("" if s == 0 else f" * {lit(1 << s, acc_t)}" for s in layer.in_shifts)
    lo, hi = _range(layer.out, layer.relu)
    rq = _requant_expr("acc", acc_t, layer.out_shift, lo, hi)
    return f"""
/* {ctext(layer.name)}: add aligned to 2^-{frac} in {acc_t}, requantized to {layer.out.describe()}{' relu' if layer.relu else ''} */
static void layer{k}(const {a.ctype} *restrict a, const {b.ctype} *restrict b, {y.ctype} *restrict y)
{{
    for (int i = 0; i < {y.size}; i++) {{
        const {acc_t} acc = ({acc_t})a[i]{ma} + ({acc_t})b[i]{mb};
        y[i] = ({y.ctype}){rq};
    }}
}}
"""


def gap(k: int, layer: Layer, x: Tensor, y: Tensor) -> str:
    c, _, _ = x.shape
    tin, out = layer.in_types[0], layer.out
    count = layer.in_pixels
    num_mul = 1 << max(-layer.out_shift, 0)  # the mean of codes at 2^-in.frac, scaled to out.frac
    den = count << max(layer.out_shift, 0)
    lo, hi = _range(out)
    mul = "" if num_mul == 1 else f" * {lit(num_mul, 'int64_t')}"
    return f"""
/* {ctext(layer.name)}: global average over {count} positions, exact round-half-even of
 * sum * 2^({out.frac} - {tin.frac}) / {count}, out {out.describe()} */
static void layer{k}(const {x.ctype} *restrict x, {y.ctype} *restrict y)
{{
    for (int ch = 0; ch < {c}; ch++) {{
        int64_t total = 0;
        for (int p = 0; p < {count}; p++)
            total += x[p * {c} + ch];
        y[ch] = ({y.ctype})clamp64(div_rne64(total{mul}, {lit(den, 'int64_t')}), {lit(lo, 'int64_t')}, {lit(hi, 'int64_t')});
    }}
}}
"""
