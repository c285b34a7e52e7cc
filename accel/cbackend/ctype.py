"""C integer types of the generated code: the narrowest type holding a code range, literals of
it, and model-file names made safe inside C comments and strings."""

from __future__ import annotations

from accel.core import arith
from accel.core.errors import AccelError
from accel.core.ir import QType

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

