"""Canonical Huffman coding over small integer alphabets, and the bit writer/reader it writes with.

- `code_lengths(symbols, alphabet)`: optimal prefix-code lengths for the symbols' frequencies,
  limited to `max_len` bits (if the optimal tree is deeper, frequencies are halved, rounding up,
  until it fits: always terminates, since equal frequencies give a balanced tree).
  A stream with one distinct symbol gets a 1-bit code (the classic convention; a 0-bit code would
  need the count elsewhere, which the container has, but 1 bit keeps the coder self-contained).
- Codes are canonical (assigned in order of (length, symbol)), so a table is just the lengths.
- `BitWriter.write_symbols` is vectorised (numpy), `BitReader.read_symbols` walks the canonical
  code bit by bit (first code / count per length): exact, and fast enough for SqueezeNet's 400k
  weights.
Bits are written most significant first; the final byte is padded with zeros.
"""

import heapq
from itertools import count

import numpy as np

from accel.core.errors import AccelError

MAX_LEN = 24  # longest code; table entries take LEN_BITS bits
LEN_BITS = 5


def _optimal_lengths(freq: dict[int, int]) -> dict[int, int]:
    if len(freq) == 1:
        return {next(iter(freq)): 1}
    tie = count()
    heap = [(f, next(tie), [s]) for s, f in sorted(freq.items())]
    heapq.heapify(heap)
    depth = dict.fromkeys(freq, 0)
    while len(heap) > 1:
        f1, _, a = heapq.heappop(heap)
        f2, _, b = heapq.heappop(heap)
        for s in a + b:
            depth[s] += 1
        heapq.heappush(heap, (f1 + f2, next(tie), a + b))
    return depth


def code_lengths(symbols, alphabet: int, max_len: int = MAX_LEN) -> np.ndarray:
    """Lengths (0 = symbol unused) for an alphabet 0..alphabet-1, from the symbols' counts."""
    symbols = np.asarray(symbols, dtype=np.int64).ravel()
    if symbols.size and (symbols.min() < 0 or symbols.max() >= alphabet):
        raise ValueError(f"symbol outside the alphabet 0..{alphabet - 1}")
    if alphabet > 2 ** max_len:
        raise ValueError(f"alphabet of {alphabet} symbols cannot fit codes of {max_len} bits")
    return lengths_from_counts(np.bincount(symbols, minlength=alphabet), max_len)


def lengths_from_counts(counts, max_len: int = MAX_LEN) -> np.ndarray:
    """Length-limited Huffman code lengths for symbol counts (0 = unused)."""
    freq = {int(s): int(c) for s, c in enumerate(counts) if c}
    if len(freq) > 2 ** max_len:
        raise ValueError(f"{len(freq)} symbols cannot fit codes of {max_len} bits")
    lengths = np.zeros(len(counts), dtype=np.int64)
    if not freq:
        return lengths
    while True:
        depth = _optimal_lengths(freq)
        if max(depth.values()) <= max_len:
            break
        freq = {s: (f + 1) // 2 for s, f in freq.items()}
    for s, d in depth.items():
        lengths[s] = d
    return lengths


def canonical_codes(lengths) -> np.ndarray:
    """Code values for each symbol (canonical order: by length, then symbol)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    codes = np.zeros(len(lengths), dtype=np.int64)
    code, prev = 0, 0
    for s in sorted((int(s) for s in np.flatnonzero(lengths)), key=lambda s: (lengths[s], s)):
        code <<= int(lengths[s]) - prev
        prev = int(lengths[s])
        codes[s] = code
        code += 1
    if np.any(lengths) and code > (1 << prev):
        raise AccelError("Huffman table is not a prefix code (corrupt lengths)")
    return codes


def encoded_bits(symbols, lengths) -> int:
    return int(np.asarray(lengths, dtype=np.int64)[np.asarray(symbols, dtype=np.int64)].sum())


class BitWriter:
    def __init__(self):
        self._chunks: list[np.ndarray] = []
        self.nbits = 0

    def write_bits(self, values, widths) -> None:
        """Each value in its own width (MSB first), vectorised."""
        values = np.asarray(values, dtype=np.int64).ravel()
        widths = np.broadcast_to(np.asarray(widths, dtype=np.int64), values.shape).ravel()
        total = int(widths.sum())
        if total == 0:
            return
        if np.any(values < 0) or np.any((widths < 63) & (values >> np.minimum(widths, 62) != 0)):
            raise ValueError("value does not fit its bit width")
        owner = np.repeat(np.arange(values.size), widths)
        ends = np.cumsum(widths)
        pos = np.arange(total) - (ends - widths)[owner]  # bit position within its value, MSB = 0
        shift = widths[owner] - 1 - pos
        self._chunks.append(((values[owner] >> shift) & 1).astype(np.uint8))
        self.nbits += total

    def write(self, value: int, width: int) -> None:
        self.write_bits([int(value)], [int(width)])

    def write_varuint(self, value: int) -> None:
        """7 bits per group, a continuation bit before each group."""
        value = int(value)
        if value < 0:
            raise ValueError("varuint must be >= 0")
        while True:
            group, value = value & 0x7F, value >> 7
            self.write(1 if value else 0, 1)
            self.write(group, 7)
            if not value:
                return

    def write_varint(self, value: int) -> None:
        self.write_varuint(zigzag(value))

    def write_table(self, lengths) -> None:
        self.write_bits(lengths, LEN_BITS)

    def write_symbols(self, symbols, lengths) -> None:
        symbols = np.asarray(symbols, dtype=np.int64).ravel()
        lengths = np.asarray(lengths, dtype=np.int64)
        if symbols.size and np.any(lengths[symbols] == 0):
            raise ValueError("symbol without a code")
        self.write_bits(canonical_codes(lengths)[symbols], lengths[symbols])

    def getvalue(self) -> bytes:
        if not self._chunks:
            return b""
        return np.packbits(np.concatenate(self._chunks)).tobytes()


class BitReader:
    def __init__(self, data: bytes):
        self.bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8)).tolist()
        self.pos = 0

    def read(self, width: int) -> int:
        if self.pos + width > len(self.bits):
            raise AccelError("compressed stream is truncated")
        value = 0
        for b in self.bits[self.pos:self.pos + width]:
            value = (value << 1) | b
        self.pos += width
        return value

    def read_varuint(self) -> int:
        value, shift = 0, 0
        while True:
            more = self.read(1)
            value |= self.read(7) << shift
            shift += 7
            if not more:
                return value
            if shift > 70:
                raise AccelError("compressed stream: varint too long (corrupt)")

    def read_varint(self) -> int:
        return unzigzag(self.read_varuint())

    def read_table(self, alphabet: int) -> np.ndarray:
        return np.array([self.read(LEN_BITS) for _ in range(alphabet)], dtype=np.int64)

    def read_symbols(self, n: int, lengths) -> np.ndarray:
        """n symbols of the canonical code with these lengths."""
        lengths = np.asarray(lengths, dtype=np.int64)
        out = np.zeros(n, dtype=np.int64)
        if n == 0:
            return out
        used = sorted((int(s) for s in np.flatnonzero(lengths)), key=lambda s: (lengths[s], s))
        if not used:
            raise AccelError("compressed stream: symbols with an empty Huffman table")
        canonical_codes(lengths)  # validates the table
        max_len = int(lengths.max())
        first, count_, index = [0] * (max_len + 2), [0] * (max_len + 2), [0] * (max_len + 2)
        code, k = 0, 0
        for length in range(1, max_len + 1):
            members = [s for s in used if lengths[s] == length]
            first[length], count_[length], index[length] = code, len(members), k
            k += len(members)
            code = (code + len(members)) << 1
        bits, pos, end = self.bits, self.pos, len(self.bits)
        for i in range(n):
            code, length = 0, 0
            while True:
                if pos >= end:
                    raise AccelError("compressed stream is truncated")
                code = (code << 1) | bits[pos]
                pos += 1
                length += 1
                off = code - first[length]
                if 0 <= off < count_[length]:
                    out[i] = used[index[length] + off]
                    break
                if length >= max_len:
                    raise AccelError("compressed stream: invalid Huffman code (corrupt)")
        self.pos = pos
        return out


def zigzag(v: int) -> int:
    v = int(v)
    return 2 * v if v >= 0 else -2 * v - 1


def unzigzag(z: int) -> int:
    z = int(z)
    return z >> 1 if z % 2 == 0 else -((z + 1) >> 1)


def roundtrip(symbols, alphabet: int, max_len: int = MAX_LEN) -> tuple[np.ndarray, int]:
    """Encode then decode (table included): (decoded symbols, bytes). For tests and reports."""
    symbols = np.asarray(symbols, dtype=np.int64).ravel()
    lengths = code_lengths(symbols, alphabet, max_len)
    w = BitWriter()
    w.write_table(lengths)
    w.write_symbols(symbols, lengths)
    blob = w.getvalue()
    r = BitReader(blob)
    table = r.read_table(alphabet)
    return r.read_symbols(symbols.size, table), len(blob)
