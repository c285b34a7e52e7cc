"""The storage plan of the generated C: every tensor gets the narrowest C integer type that holds
its code range, and lives in a per-type pool of a workspace struct (offsets planned here from tensor
lifetimes), so no object is ever accessed through a pointer of another type (no strict-aliasing or
alignment questions)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from accel.cbackend.ctype import ACC32_MAX_BITS, POOL, ctype_for, qtype_ctype
from accel.core import arith, kinds
from accel.core.errors import AccelError
from accel.core.ir import Layer, QuantModel


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

