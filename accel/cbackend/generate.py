"""Generate dependency-free C99 for a model file's integer network (the golden arithmetic, §3).

Layout inside the C: every tensor is stored channels-last (H, W, C), as the hardware streams it.
Convs with many output channels (>= OINNER_MIN) loop over them innermost, weights stored
(KH, KW, I, O): one input code times a contiguous row of weights, which compilers vectorize, and
zero inputs (frequent after ReLU) skip their row. Narrow convs keep (O, KH, KW, I): one kernel row of
one output channel and the input pixels under it are both contiguous (small kernels fully unrolled).
The API takes uint8 images NCHW (the dataset's order) or NHWC.

Every tensor gets the narrowest C integer type that holds its code range, and lives in a per-type
pool of a workspace struct (offsets planned here from tensor lifetimes), so no object is ever
accessed through a pointer of another type (no strict-aliasing or alignment questions).

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

import hashlib
from dataclasses import dataclass, field

import numpy as np

from accel.core import arith, kinds
from accel.core.errors import AccelError
from accel.core.ir import Layer, QType, QuantModel

# (C type, pool member, numpy dtype, lo, hi), narrowest first.
CTYPES = [
    ("int8_t", "i8", "<i1", -(1 << 7), (1 << 7) - 1),
    ("uint8_t", "u8", "<u1", 0, (1 << 8) - 1),
    ("int16_t", "i16", "<i2", -(1 << 15), (1 << 15) - 1),
    ("uint16_t", "u16", "<u2", 0, (1 << 16) - 1),
    ("int32_t", "i32", "<i4", -(1 << 31), (1 << 31) - 1),
    ("int64_t", "i64", "<i8", -(1 << 63), (1 << 63) - 1),
]
NUMPY_DTYPE = {c: d for c, _, d, _, _ in CTYPES}
POOL = {c: p for c, p, _, _, _ in CTYPES}
OINNER_MIN = 8  # convs with at least this many output channels loop over them innermost
UNROLL_MAX = 32  # kernels with at most this many products per output are written out unrolled
ACC32_MAX_BITS = 31  # accumulators wider than this (signed width) use int64


def ctype_for(lo: int, hi: int, signed_only: bool = False) -> str:
    for ctype, _, _, tlo, thi in CTYPES:
        if signed_only and ctype.startswith("u"):
            continue
        if tlo <= lo and hi <= thi:
            return ctype
    raise AccelError(f"integer range {lo}..{hi} does not fit in 64 bits: the C backend cannot "
                     "represent it")


def qtype_ctype(q: QType) -> str:
    return ctype_for(*arith.code_range(q.bits, q.signed, q.narrow))


def lit(v: int, ctype: str = "int32_t") -> str:
    """A C literal of value v usable in an expression of type ctype (64-bit ones via INT64_C)."""
    v = int(v)
    if ctype == "int64_t" or not -(1 << 31) < v < (1 << 31):
        return f"INT64_C({v})" if v != -(1 << 63) else "INT64_MIN"
    return str(v)


def ctext(s: str) -> str:
    """A name (layer, file) as text inside a C comment: printable ASCII, no `/*` and no `*/` (that would
    end the comment early and let a crafted model file inject code)."""
    return "".join(ch if 32 <= ord(ch) < 127 else "_" for ch in s).replace("*/", "*_/").replace("/*", "/_*")


def cstring(s: str) -> str:
    out = []
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= o < 127 and ch != "?":  # '?' escaped: no trigraphs
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


@dataclass
class Tensor:
    name: str
    qtype: QType
    shape: tuple  # (C, H, W)
    ctype: str
    offset: int = 0  # in elements of its pool

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def pool(self) -> str:
        return POOL[self.ctype]


@dataclass
class Plan:
    model: QuantModel
    tensors: dict = field(default_factory=dict)  # name -> Tensor
    input: Tensor | None = None
    output: Tensor | None = None
    pool_sizes: dict = field(default_factory=dict)  # pool member -> elements
    acc: dict = field(default_factory=dict)  # layer name -> (ctype, signed width)


class _Pools:
    """First-fit allocation of tensor lifetimes, one pool per C type."""

    def __init__(self):
        self.live: dict[str, list] = {}
        self.size: dict[str, int] = {}

    def alloc(self, t: Tensor) -> None:
        live = sorted(self.live.setdefault(t.pool, []), key=lambda x: x[0])
        at = 0
        for start, size, _ in live:
            if start - at >= t.size:
                break
            at = max(at, start + size)
        t.offset = at
        self.live[t.pool].append((at, t.size, t.name))
        self.size[t.pool] = max(self.size.get(t.pool, 0), at + t.size)

    def free(self, t: Tensor) -> None:
        self.live[t.pool] = [x for x in self.live[t.pool] if x[2] != t.name]


def conv_acc_type(layer: Layer) -> tuple[str, int]:
    """Accumulator C type and signed width: the IR's one accumulator width (from the real weights
    and biases), int32_t when it fits (the Cortex-A9 is a 32-bit CPU)."""
    return ("int32_t" if layer.acc_bits <= ACC32_MAX_BITS else "int64_t"), layer.acc_bits


def plan(qm: QuantModel) -> Plan:
    kinds.refuse(qm, "c")
    p = Plan(qm)
    c, h, w = qm.input_shape
    lo, hi = arith.code_range(qm.input_type.bits, qm.input_type.signed, qm.input_type.narrow)
    p.input = Tensor(qm.input_name, qm.input_type, (c, h, w), ctype_for(max(lo, 0), min(hi, 255)))
    p.tensors[qm.input_name] = p.input
    last_use = {}  # id(tensor) -> index of the last layer reading it
    for k, layer in enumerate(qm.layers):
        for name in layer.inputs:
            if name in p.tensors:
                last_use[id(p.tensors[name])] = k
    pools = _Pools()
    pools.alloc(p.input)
    for k, layer in enumerate(qm.layers):
        ins = [p.tensors[n] for n in layer.inputs]
        if layer.kind == "conv":
            p.acc[layer.name] = conv_acc_type(layer)
        out = Tensor(layer.output, layer.out, tuple(int(d) for d in layer.shape),
                     qtype_ctype(layer.out))
        pools.alloc(out)  # before freeing the inputs: a layer never writes over what it reads
        p.tensors[layer.output] = out
        for t in {id(t): t for t in ins}.values():
            if last_use[id(t)] == k and t.name != qm.output:
                pools.free(t)
        readers = [j for j, l in enumerate(qm.layers) if out.name in l.inputs]
        last_use[id(out)] = max(readers, default=k)
        if not readers and out.name != qm.output:
            pools.free(out)  # read by nobody (still computed: the trace shows it)
    if qm.output not in p.tensors or p.tensors[qm.output] is p.input:
        raise AccelError("C backend: the model output is not computed by any layer")
    p.output = p.tensors[qm.output]
    p.pool_sizes = dict(pools.size)
    return p


# ---------------------------------------------------------------------------------------------
# C text

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


def _conv(k: int, layer: Layer, x: Tensor, y: Tensor, plan_: Plan) -> tuple[str, str]:
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


def _maxpool(k: int, layer: Layer, x: Tensor, y: Tensor) -> str:
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


def _concat(k: int, layer: Layer, xs: list, y: Tensor) -> str:
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


def _add(k: int, layer: Layer, a: Tensor, b: Tensor, y: Tensor) -> str:
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


def _gap(k: int, layer: Layer, x: Tensor, y: Tensor) -> str:
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


def _ref(t: Tensor) -> str:
    return f"ws->{t.pool} + {t.offset}"


def score_ctype(p: Plan) -> str:
    return "int64_t" if p.output.ctype in ("int64_t",) else "int32_t"


def source_files(qm: QuantModel) -> dict[str, str]:
    """{file name: text} of the C sources for model qm."""
    p = plan(qm)
    n_layers = len(qm.layers)
    c, h, w = qm.input_shape
    names = qm.class_names
    n_out = p.output.size
    if len(names) != n_out:
        names = [str(j) for j in range(n_out)]
    used_types = sorted({t.ctype for t in p.tensors.values()}, key=lambda c_: [x[0] for x in CTYPES].index(c_))
    ws_members = "\n".join(f"    {ct} {POOL[ct]}[{max(p.pool_sizes.get(POOL[ct], 0), 1)}];"
                           for ct in used_types)
    score_t = score_ctype(p)
    sha = hashlib.sha256(qm.path.read_bytes()).hexdigest() if qm.path.is_file() else "?"
    header = f"""/* Generated by `accel c` from {ctext(qm.path.name)} (sha256 {sha[:16]}...). Do not edit.
 *
 * Integer-only C99 inference of the model's quantized network, bit-exact with accel's golden model.
 * Images are uint8 pixel codes (value = code * 2^-{qm.input_type.frac}), {c}x{h}x{w}, NCHW (the dataset's
 * order) or NHWC (the hardware's streaming order). Scores are the output codes: value = code * 2^-{p.output.qtype.frac}.
 *
 *     accel_score_t scores[ACCEL_NUM_CLASSES];
 *     int cls = accel_infer(NULL, image, ACCEL_NCHW, scores);
 *
 * Pass a workspace of your own (accel_workspace, e.g. one per thread) instead of NULL to make the
 * call reentrant; NULL uses a static one.
 */
#ifndef ACCEL_MODEL_H
#define ACCEL_MODEL_H

#include <stdint.h>

#define ACCEL_IN_C {c}
#define ACCEL_IN_H {h}
#define ACCEL_IN_W {w}
#define ACCEL_IN_BYTES {c * h * w}
#define ACCEL_NUM_CLASSES {n_out}
#define ACCEL_NUM_LAYERS {n_layers}
#define ACCEL_SCORE_FRAC {p.output.qtype.frac}

enum accel_layout {{ ACCEL_NCHW = 0, ACCEL_NHWC = 1 }};

typedef {score_t} accel_score_t;

/* Every intermediate tensor, one pool per integer type (offsets planned from tensor lifetimes). */
typedef struct {{
{ws_members}
}} accel_workspace;

/* Runs one image. Writes ACCEL_NUM_CLASSES scores (output codes, channel order) and returns the
 * class index (the first maximum), or -1 if layout is unknown or a pixel is outside the input
 * quantizer's code range. */
int accel_infer(accel_workspace *ws, const uint8_t *image, int layout, accel_score_t *scores);

/* Index of the first maximum of ACCEL_NUM_CLASSES scores. */
int accel_argmax(const accel_score_t *scores);

extern const char *const accel_class_names[ACCEL_NUM_CLASSES];
extern const char *const accel_layer_names[ACCEL_NUM_LAYERS];

#ifdef ACCEL_TRACE
/* Debug build: every layer's output codes are appended, channel-first (C, H, W) in the layer's
 * storage type, little-endian, to DIR/L<index>.bin. Returns 0, or -1 if a file cannot be opened. */
int accel_trace_open(const char *dir);
void accel_trace_close(void);
#endif

#endif
"""
    consts, funcs, calls = [], [], []
    trace_types = set()
    for k, layer in enumerate(qm.layers):
        ins = [p.tensors[n] for n in layer.inputs]
        y = p.tensors[layer.output]
        if layer.kind == "conv":
            cst, fn = _conv(k, layer, ins[0], y, p)
            consts.append(cst)
        elif layer.kind == "maxpool":
            fn = _maxpool(k, layer, ins[0], y)
        elif layer.kind == "concat":
            fn = _concat(k, layer, ins, y)
        elif layer.kind == "add":
            fn = _add(k, layer, ins[0], ins[1], y)
        else:
            fn = _gap(k, layer, ins[0], y)
        funcs.append(fn)
        args = ", ".join(_ref(t) for t in ins + [y])
        trace_types.add(y.ctype)
        calls.append(f"    layer{k}({args}); /* {ctext(layer.name)} */\n"
                     f"    ACCEL_TRACE_LAYER({k}, {POOL[y.ctype]}, {_ref(y)}, {y.shape[0]}, "
                     f"{y.shape[1] * y.shape[2]});")
    lo, hi = arith.code_range(qm.input_type.bits, qm.input_type.signed, qm.input_type.narrow)
    check = "" if lo <= 0 and hi >= 255 else \
        f"        if (v < {lo} || v > {hi})\n            return -1; /* outside the input quantizer */\n"
    x, o = p.input, p.output
    oc, oh, ow = o.shape
    trace_max = max(t.size for t in p.tensors.values())
    writers = "\n".join(f"ACCEL_TRACE_WRITER({POOL[ct]}, {ct})" for ct in sorted(trace_types))
    layer_names = ",\n    ".join(cstring(l.name) for l in qm.layers)
    class_names = ",\n    ".join(cstring(s) for s in names)
    model_c = f"""/* Generated by `accel c` from {ctext(qm.path.name)} (sha256 {sha[:16]}...). Do not edit.
 * Integer-only C99; tensors channels-last (H, W, C); see accel_model.h for the API. */
#include "accel_model.h"

#include <stddef.h>
#ifdef ACCEL_TRACE
#include <stdio.h>
#include <string.h>
#endif
{RUNTIME}
/* ---- weights and biases: integer codes, the narrowest type holding each array ---- */

{chr(10).join(consts)}
/* ---- layers ---- */
{''.join(funcs)}
/* ---- trace (debug builds) ---- */
#ifdef ACCEL_TRACE
static FILE *trace_files[ACCEL_NUM_LAYERS];

int accel_trace_open(const char *dir)
{{
    char path[4096];
    for (int k = 0; k < ACCEL_NUM_LAYERS; k++) {{
        if (snprintf(path, sizeof path, "%s/L%d.bin", dir, k) >= (int)sizeof path)
            return -1;
        trace_files[k] = fopen(path, "wb");
        if (!trace_files[k])
            return -1;
    }}
    return 0;
}}

void accel_trace_close(void)
{{
    for (int k = 0; k < ACCEL_NUM_LAYERS; k++)
        if (trace_files[k]) {{
            fclose(trace_files[k]);
            trace_files[k] = NULL;
        }}
}}

/* channels-last buffer -> channel-first file records (the golden model's NCHW order) */
#define ACCEL_TRACE_WRITER(POOL, T)                                                    \\
    static void trace_##POOL(int k, const T *t, int c, int hw)                         \\
    {{                                                                                  \\
        static T buf[{trace_max}];                                                        \\
        if (!trace_files[k])                                                           \\
            return;                                                                    \\
        for (int ch = 0; ch < c; ch++)                                                 \\
            for (int p = 0; p < hw; p++)                                               \\
                buf[ch * hw + p] = t[p * c + ch];                                      \\
        fwrite(buf, sizeof(T), (size_t)(c * hw), trace_files[k]);                      \\
    }}
{writers}
#define ACCEL_TRACE_LAYER(K, POOL, T, C, HW) trace_##POOL(K, T, C, HW)
#else
#define ACCEL_TRACE_LAYER(K, POOL, T, C, HW) ((void)0)
#endif

/* ---- API ---- */
const char *const accel_class_names[ACCEL_NUM_CLASSES] = {{
    {class_names}
}};

const char *const accel_layer_names[ACCEL_NUM_LAYERS] = {{
    {layer_names}
}};

static accel_workspace static_ws;

int accel_argmax(const accel_score_t *scores)
{{
    int best = 0;
    for (int k = 1; k < ACCEL_NUM_CLASSES; k++)
        if (scores[k] > scores[best])
            best = k;
    return best;
}}

int accel_infer(accel_workspace *ws, const uint8_t *image, int layout, accel_score_t *scores)
{{
    if (!ws)
        ws = &static_ws;
    {x.ctype} *in = {_ref(x)};
    if (layout != ACCEL_NCHW && layout != ACCEL_NHWC)
        return -1;
    for (int i = 0; i < {c * h * w}; i++) {{
        /* i walks the channels-last buffer; NCHW images are transposed on the way in */
        const int ch = i % {c}, p = i / {c};
        const int v = image[layout == ACCEL_NHWC ? i : ch * {h * w} + p];
{check}        in[i] = ({x.ctype})v;
    }}
{chr(10).join(calls)}
    {{
        const {o.ctype} *out = {_ref(o)};
        for (int ch = 0; ch < {oc}; ch++)
            for (int p = 0; p < {oh * ow}; p++)
                scores[ch * {oh * ow} + p] = (accel_score_t)out[p * {oc} + ch];
    }}
    return accel_argmax(scores);
}}
"""
    return {"accel_model.h": header, "accel_model.c": model_c, "main.c": MAIN_C,
            "Makefile": makefile()}


HOST_CC = "cc"
HOST_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic"]
ARM_CC = "arm-linux-gnueabihf-gcc"
ARM_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-mcpu=cortex-a9", "-mfpu=neon",
             "-mfloat-abi=hard", "-static"]
SOURCES = ["accel_model.c", "main.c"]
HOST_BIN, ARM_BIN = "accel_demo", "accel_demo.arm"


def makefile() -> str:
    return f"""# Generated by `accel c`. `make` builds the host demo, `make arm` the static Zynq (Cortex-A9)
# binary (Debian: gcc-arm-linux-gnueabihf; run it with qemu-arm off-board), `make trace` a host demo
# that can dump every layer's output (-t DIR).
CC = {HOST_CC}
CFLAGS = {' '.join(HOST_FLAGS)}
ARM_CC = {ARM_CC}
ARM_CFLAGS = {' '.join(ARM_FLAGS)}
SRC = {' '.join(SOURCES)}

all: {HOST_BIN}

{HOST_BIN}: $(SRC) accel_model.h
\t$(CC) $(CFLAGS) -o $@ $(SRC)

trace: {HOST_BIN}_trace
{HOST_BIN}_trace: $(SRC) accel_model.h
\t$(CC) $(CFLAGS) -DACCEL_TRACE -o $@ $(SRC)

arm: {ARM_BIN}
{ARM_BIN}: $(SRC) accel_model.h
\t$(ARM_CC) $(ARM_CFLAGS) -o $@ $(SRC)

clean:
\trm -f {HOST_BIN} {HOST_BIN}_trace {ARM_BIN}

.PHONY: all trace arm clean
"""


MAIN_C = r"""/* Generated by `accel c`: demo for accel_model.c.
 *
 *     accel_demo [-l nchw|nhwc] [-q] [-r REPEAT] [-t TRACEDIR] [FILE|-]
 *
 * Reads raw uint8 images (ACCEL_IN_BYTES bytes each, NCHW unless -l nhwc) from FILE or stdin and
 * prints one line per image: "<index> <class> <score 0> ... <score K-1>" (scores are output codes).
 * -q prints only a summary on stderr; -r runs every image REPEAT times (timing); -t (a build with
 * -DACCEL_TRACE) writes every layer's output to TRACEDIR/L<k>.bin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accel_model.h"

static int usage(const char *msg)
{
    fprintf(stderr, "accel_demo: %s\nusage: accel_demo [-l nchw|nhwc] [-q] [-r REPEAT] [-t TRACEDIR] [FILE|-]\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    const char *path = "-", *trace = NULL;
    int layout = ACCEL_NCHW, quiet = 0;
    long repeat = 1;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "-l") && a + 1 < argc) {
            a++;
            if (!strcmp(argv[a], "nchw"))
                layout = ACCEL_NCHW;
            else if (!strcmp(argv[a], "nhwc"))
                layout = ACCEL_NHWC;
            else
                return usage("layout must be nchw or nhwc");
        } else if (!strcmp(argv[a], "-q")) {
            quiet = 1;
        } else if (!strcmp(argv[a], "-r") && a + 1 < argc) {
            repeat = strtol(argv[++a], NULL, 10);
            if (repeat < 1)
                return usage("REPEAT must be >= 1");
        } else if (!strcmp(argv[a], "-t") && a + 1 < argc) {
            trace = argv[++a];
        } else if (argv[a][0] == '-' && argv[a][1] != '\0') {
            return usage("unknown option");
        } else {
            path = argv[a];
        }
    }
#ifdef ACCEL_TRACE
    if (trace && accel_trace_open(trace) != 0) {
        fprintf(stderr, "accel_demo: cannot write trace files in %s\n", trace);
        return 2;
    }
#else
    if (trace)
        return usage("-t needs a build with -DACCEL_TRACE (make trace)");
#endif
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "accel_demo: cannot open %s\n", path);
        return 2;
    }
    /* read everything first: the timing below covers inference only */
    size_t cap = 1 << 20, len = 0, got;
    unsigned char *data = malloc(cap);
    while (data && (got = fread(data + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *more = realloc(data, cap *= 2);
            if (!more)
                free(data);
            data = more;
        }
    }
    if (f != stdin)
        fclose(f);
    if (!data) {
        fprintf(stderr, "accel_demo: out of memory\n");
        return 2;
    }
    if (len % ACCEL_IN_BYTES) {
        fprintf(stderr, "accel_demo: input is %lu bytes, not a whole number of %d-byte images\n",
                (unsigned long)len, ACCEL_IN_BYTES);
        return 2;
    }
    const long n = (long)(len / ACCEL_IN_BYTES);
    static accel_workspace ws;
    accel_score_t scores[ACCEL_NUM_CLASSES];
    int status = 0;
    const clock_t t0 = clock();
    for (long i = 0; i < n; i++) {
        int cls = 0;
        for (long r = 0; r < repeat; r++)
            cls = accel_infer(&ws, data + i * ACCEL_IN_BYTES, layout, scores);
        if (cls < 0) {
            fprintf(stderr, "accel_demo: image %ld: pixel outside the input code range\n", i);
            status = 1;
            break;
        }
        if (!quiet) {
            printf("%ld %d", i, cls);
            for (int k = 0; k < ACCEL_NUM_CLASSES; k++)
                printf(" %lld", (long long)scores[k]);
            printf("\n");
        }
    }
    const double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
#ifdef ACCEL_TRACE
    accel_trace_close();
#endif
    if (quiet)
        fprintf(stderr, "accel_demo: %ld images x %ld, %.3f s CPU, %.1f images/s\n", n, repeat, s,
                s > 0 ? n * repeat / s : 0.0);
    free(data);
    return status;
}
"""
