"""The compressed container: every conv layer's integer weight and bias codes, Deep Compression style.

Per layer the weights (flattened O, I, kh, kw) are stored sparse: only the nonzero codes, each as
(relative index, codebook index), as in Han et al. The relative index is the number of zeros before
the entry, in an alphabet of 2^gap_bits symbols; the top symbol F = 2^gap_bits - 1 is a filler
("skip F zeros, no weight"), used when a gap is F or longer. Both streams are Huffman coded:
the gap symbols with one table for the whole model, the codebook indices with one table per layer
(a layer's codebook is its sorted distinct nonzero codes). Biases (32-bit codes) are coded as in
JPEG's DC coefficients: the bit length of the zigzagged value is Huffman coded (one table for the
model), followed by that many raw bits (without the leading 1).

Layout (bits, MSB first; varuint = 7-bit groups with continuation bits):

    magic "ADC1" (32) | gap_bits (4) | layers (varuint)
    gap table (2^gap_bits x 5) | bias-length table (34 x 5)
    per layer: weights n (varuint) | entries m (varuint, gap symbols incl. fillers) |
               weight frac (varint) | codebook size K (varuint) | codebook (varint first,
               varuint deltas - 1) | index table (K x 5, only if K > 1) |
               m gap symbols | (m - fillers) index symbols |
               biases (varuint, 0 = none) | bias frac (varint) | bias length symbols | raw bits
    zero padding to a byte

The byte count of a model is the length of this stream: headers, tables and biases included.
Layer names and shapes are not stored: they come from the model file (the decoder takes them).
"""

from dataclasses import dataclass, field

import numpy as np

from accel.compress.huffman import BitReader, BitWriter, code_lengths, encoded_bits
from accel.core.errors import AccelError

MAGIC = b"ADC1"
BITSTREAM = "weights.adc"  # the container's file name in a compress output folder
BIAS_ALPHABET = 34  # bit lengths 0..33 of a zigzagged 32-bit code


@dataclass
class LayerCodes:
    name: str
    weight: np.ndarray  # int64 codes, any shape
    wfrac: int
    bias: np.ndarray | None = None  # int64 codes (O,)
    bfrac: int = 0


@dataclass
class LayerBits:
    """Where each layer's bits went (for the size report)."""
    name: str
    header: int = 0
    table: int = 0
    gaps: int = 0
    indices: int = 0
    biases: int = 0
    entries: int = 0  # gap symbols, fillers included
    fillers: int = 0
    nonzeros: int = 0
    codebook: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.header + self.table + self.gaps + self.indices + self.biases


def sparse_stream(flat: np.ndarray, gap_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(gap symbols incl. fillers, positions of the nonzeros) of a flat code array."""
    filler = (1 << gap_bits) - 1
    pos = np.flatnonzero(flat)
    gaps = np.diff(np.concatenate([[-1], pos])) - 1
    fills = gaps // filler
    # each entry: `fills` filler symbols, then its gap remainder
    total = int(fills.sum()) + len(pos)
    symbols = np.full(total, filler, dtype=np.int64)
    ends = np.cumsum(fills + 1) - 1
    symbols[ends] = gaps - fills * filler
    return symbols, pos


def _bias_parts(bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.where(bias >= 0, 2 * bias, -2 * bias - 1).astype(np.int64)
    lengths = np.zeros(len(z), dtype=np.int64)
    nz = z > 0
    lengths[nz] = np.floor(np.log2(z[nz])).astype(np.int64) + 1
    # exact fix-up of float log2 at powers of two
    lengths[nz] += (z[nz] >> lengths[nz]) > 0
    lengths[nz] -= (z[nz] >> (lengths[nz] - 1)) == 0
    return lengths, z


def encode(layers: list[LayerCodes], gap_bits: int = 4) -> tuple[bytes, list[LayerBits]]:
    """Layers -> (bitstream, per-layer bit accounting). The first LayerBits is the container."""
    if not 1 <= gap_bits <= 8:
        raise AccelError(f"gap bits {gap_bits}: choose 1 to 8")
    prepared = []
    for layer in layers:
        flat = np.asarray(layer.weight, dtype=np.int64).ravel()
        gaps, pos = sparse_stream(flat, gap_bits)
        values = flat[pos]
        codebook = np.unique(values)
        idx = np.searchsorted(codebook, values)
        bias = None if layer.bias is None else np.asarray(layer.bias, dtype=np.int64).ravel()
        if bias is not None and np.any(np.abs(bias) >= 2 ** 32):
            raise AccelError(f"layer {layer.name}: bias code does not fit 32 bits")
        prepared.append((layer, flat, gaps, idx, codebook, bias))
    all_gaps = np.concatenate([p[2] for p in prepared] + [np.zeros(0, np.int64)])
    gap_len = code_lengths(all_gaps, 1 << gap_bits)
    bias_syms = [_bias_parts(p[5]) for p in prepared if p[5] is not None and len(p[5])]
    all_bias = np.concatenate([b[0] for b in bias_syms] + [np.zeros(0, np.int64)])
    bias_len = code_lengths(all_bias, BIAS_ALPHABET)

    w = BitWriter()
    container = LayerBits("(container)")
    w.write_bits(np.frombuffer(MAGIC, dtype=np.uint8), 8)
    w.write(gap_bits, 4)
    w.write_varuint(len(layers))
    container.header = w.nbits
    w.write_table(gap_len)
    w.write_table(bias_len)
    container.table = w.nbits - container.header
    stats = [container]
    for layer, flat, gaps, idx, codebook, bias in prepared:
        st = LayerBits(layer.name, entries=len(gaps), nonzeros=len(idx),
                       fillers=int((gaps == (1 << gap_bits) - 1).sum()),
                       codebook=[int(c) for c in codebook])
        start = w.nbits
        w.write_varuint(flat.size)
        w.write_varuint(len(gaps))
        w.write_varint(layer.wfrac)
        w.write_varuint(len(codebook))
        if len(codebook):
            w.write_varint(int(codebook[0]))
            for d in np.diff(codebook):
                w.write_varuint(int(d) - 1)
        st.header = w.nbits - start
        start = w.nbits
        idx_len = code_lengths(idx, max(len(codebook), 1)) if len(codebook) > 1 else None
        if idx_len is not None:
            w.write_table(idx_len)
        st.table = w.nbits - start
        start = w.nbits
        w.write_symbols(gaps, gap_len)
        st.gaps = w.nbits - start
        start = w.nbits
        if idx_len is not None:
            w.write_symbols(idx, idx_len)
        st.indices = w.nbits - start
        start = w.nbits
        w.write_varuint(0 if bias is None else len(bias))
        if bias is not None:
            w.write_varint(layer.bfrac)
            lengths, z = _bias_parts(bias)
            if len(bias):
                w.write_symbols(lengths, bias_len)
                keep = lengths > 1
                w.write_bits(z[keep] - (np.int64(1) << (lengths[keep] - 1)), lengths[keep] - 1)
        st.biases = w.nbits - start
        stats.append(st)
    blob = w.getvalue()
    container.header += len(blob) * 8 - w.nbits  # padding
    assert sum(s.total for s in stats) == len(blob) * 8
    return blob, stats


def decode(blob: bytes, shapes: list[tuple] | None = None) -> list[LayerCodes]:
    """The bitstream -> integer codes, exactly as encoded. `shapes` (from the model file) reshapes
    the flat weights and is checked against the stored counts."""
    r = BitReader(blob)
    if len(blob) < 5 or bytes(r.read(8) for _ in range(4)) != MAGIC:
        raise AccelError("not an accel compressed stream (bad magic)")
    gap_bits = r.read(4)
    n_layers = r.read_varuint()
    if shapes is not None and len(shapes) != n_layers:
        raise AccelError(f"compressed stream has {n_layers} layers, the model file "
                         f"{len(shapes)}: not the stream of this model")
    filler = (1 << gap_bits) - 1
    gap_len = r.read_table(1 << gap_bits)
    bias_len = r.read_table(BIAS_ALPHABET)
    out = []
    for i in range(n_layers):
        n = r.read_varuint()
        m = r.read_varuint()
        wfrac = r.read_varint()
        k = r.read_varuint()
        codebook = []
        if k:
            codebook.append(r.read_varint())
            for _ in range(k - 1):
                codebook.append(codebook[-1] + r.read_varuint() + 1)
        idx_len = r.read_table(k) if k > 1 else None
        gaps = r.read_symbols(m, gap_len)
        real = gaps != filler
        n_real = int(real.sum())
        idx = r.read_symbols(n_real, idx_len) if idx_len is not None else np.zeros(n_real, np.int64)
        # positions: each symbol advances by its gap (+1 for a real entry)
        step = np.where(real, gaps + 1, filler)
        pos = (np.cumsum(step) - 1)[real]
        if n_real and (pos[-1] >= n or (k == 0)):
            raise AccelError("compressed stream: weight position out of range (corrupt)")
        flat = np.zeros(n, dtype=np.int64)
        if n_real:
            flat[pos] = np.asarray(codebook, dtype=np.int64)[idx]
        nb = r.read_varuint()
        bias, bfrac = None, 0
        if nb:
            bfrac = r.read_varint()
            lengths = r.read_symbols(nb, bias_len)
            z = np.zeros(nb, dtype=np.int64)
            for j, length in enumerate(lengths):
                if length:
                    z[j] = (1 << (int(length) - 1)) | (r.read(int(length) - 1) if length > 1 else 0)
            bias = np.where(z % 2 == 0, z >> 1, -((z + 1) >> 1))
        if shapes is not None:
            if int(np.prod(shapes[i])) != n:
                raise AccelError(f"compressed stream layer {i}: {n} weights, the model file's "
                                 f"shape {tuple(shapes[i])} holds {int(np.prod(shapes[i]))}")
            flat = flat.reshape(shapes[i])
        out.append(LayerCodes(str(i), flat, wfrac, bias, bfrac))
    return out


def fixed_width_bits(flat: np.ndarray, value_bits: int, gap_bits: int) -> tuple[int, int]:
    """(entries incl. fillers, bits) of the paper's fixed-width sparse format: each entry is
    gap_bits of relative index + value_bits (a filler is a zero entry, as in Han et al.)."""
    gaps, _ = sparse_stream(np.asarray(flat).ravel(), gap_bits)
    return len(gaps), len(gaps) * (gap_bits + value_bits)


def huffman_estimate(symbols, alphabet: int) -> int:
    """Bits of a Huffman-coded symbol stream (payload only)."""
    return encoded_bits(symbols, code_lengths(symbols, alphabet))


def model_layers(qm) -> list[LayerCodes]:
    """The convolutions of a model file as the container stores them."""
    return [LayerCodes(l.name, l.weight, l.wtype.frac, l.bias, l.btype.frac if l.btype else 0)
            for l in qm.layers if l.kind == "conv"]
