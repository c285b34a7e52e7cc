"""Huffman coding: exact round trips, including adversarial distributions, and code quality."""

import math

import numpy as np
import pytest

from accel.compress import huffman
from accel.core.errors import AccelError


def _entropy_bits(symbols) -> float:
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum())


def _kraft(lengths) -> float:
    lengths = np.asarray(lengths)
    return float((2.0 ** -lengths[lengths > 0]).sum())


@pytest.mark.parametrize("name, symbols, alphabet", [
    ("one symbol", [7] * 1000, 16),
    ("one symbol once", [0], 1),
    ("all distinct", list(range(256)), 256),
    ("all distinct shuffled", list(np.random.default_rng(1).permutation(300)), 300),
    ("very skewed", [0] * 5000 + [1] + [2] * 3 + [3] * 40, 4),
    ("two symbols", [0, 1] * 50, 2),
    ("random", list(np.random.default_rng(0).integers(0, 16, 4000)), 16),
    ("empty", [], 5),
])
def test_roundtrip_exact(name, symbols, alphabet):
    decoded, nbytes = huffman.roundtrip(symbols, alphabet)
    assert decoded.tolist() == [int(s) for s in symbols], name
    lengths = huffman.code_lengths(symbols, alphabet)
    expected_bits = alphabet * huffman.LEN_BITS + huffman.encoded_bits(symbols, lengths)
    assert nbytes == math.ceil(expected_bits / 8)


def test_one_symbol_costs_one_bit_each_and_all_distinct_is_balanced():
    assert huffman.code_lengths([3] * 10, 5).tolist() == [0, 0, 0, 1, 0]
    lengths = huffman.code_lengths(range(256), 256)
    assert set(lengths.tolist()) == {8}
    lengths = huffman.code_lengths(range(5), 5)  # not a power of two: lengths 2 and 3, complete
    assert sorted(lengths.tolist()) == [2, 2, 2, 3, 3] and _kraft(lengths) == 1.0


def test_skewed_fibonacci_counts_are_length_limited_and_still_a_prefix_code():
    fib = [1, 1]
    while len(fib) < 45:
        fib.append(fib[-1] + fib[-2])
    unlimited = huffman.lengths_from_counts(fib, max_len=64)
    assert unlimited.max() == 44  # the maximally deep tree
    for limit in (24, 10, 6):
        lengths = huffman.lengths_from_counts(fib, max_len=limit)
        assert lengths.max() <= limit and _kraft(lengths) <= 1.0
    symbols = np.repeat(np.arange(26), fib[:26])  # 317,810 symbols, natural depth 25
    decoded, _ = huffman.roundtrip(symbols, 26, max_len=8)
    assert np.array_equal(decoded, symbols)


def test_optimal_within_one_bit_of_entropy():
    rng = np.random.default_rng(3)
    for p in ([0.5, 0.25, 0.125, 0.125], [0.9, 0.05, 0.03, 0.02], [0.3] * 3 + [0.1]):
        symbols = rng.choice(len(p), size=20000, p=p)
        lengths = huffman.code_lengths(symbols, len(p))
        bits = huffman.encoded_bits(symbols, lengths)
        h = _entropy_bits(symbols)
        assert h <= bits < h + len(symbols)
    dyadic = np.repeat([0, 1, 2, 3], [8, 4, 2, 2])  # exact powers of two: Huffman = entropy
    assert huffman.encoded_bits(dyadic, huffman.code_lengths(dyadic, 4)) == _entropy_bits(dyadic)


def test_canonical_codes_are_prefix_free():
    lengths = huffman.code_lengths(np.random.default_rng(5).zipf(1.5, 3000) % 40, 40)
    codes = huffman.canonical_codes(lengths)
    words = [format(int(codes[s]), f"0{int(lengths[s])}b") for s in np.flatnonzero(lengths)]
    for a in words:
        for b in words:
            assert a == b or not b.startswith(a)


def test_truncated_or_corrupt_streams_raise():
    w = huffman.BitWriter()
    lengths = huffman.code_lengths([0, 1, 2, 2, 2], 3)
    w.write_symbols([0, 1, 2, 2, 2] * 10, lengths)
    blob = w.getvalue()
    with pytest.raises(AccelError, match="truncated"):
        huffman.BitReader(blob[:2]).read_symbols(50, lengths)
    with pytest.raises(AccelError):
        huffman.BitReader(blob).read_symbols(1, [1, 1, 1])  # not a prefix code
    with pytest.raises(ValueError):
        huffman.code_lengths([5], 5)  # outside the alphabet


def test_varints_and_zigzag():
    w = huffman.BitWriter()
    values = [0, 1, -1, 63, -64, 2 ** 31 - 1, -2 ** 31, 10 ** 12]
    for v in values:
        w.write_varint(v)
    r = huffman.BitReader(w.getvalue())
    assert [r.read_varint() for _ in values] == values
