"""The RTL design as a netlist: one block instance per layer of the model and the AXI4-Stream
wires between them, built from a model and its folds without writing anything (the generator
writes it out, the resource model and the mapper read its instances).

    build_netlist(qm, folds, roms=True) -> (Netlist, input Stream, output Stream)
    conv(net, layer, src, fold)         the instances of one convolution (window unit + MVAU;
                                        a tiled fold: accel_mvau_tile + accel_axi_wread, DDR)
    weight_rom(layer, fold)             the MVAU's weight and bias ROM contents ($readmemh text)
"""

import re
from dataclasses import dataclass

import numpy as np

from accel.core import arith, kinds
from accel.core.ir import QuantModel
from accel.rtl import fold as folding
from accel.rtl import mul


@dataclass
class Stream:
    """A channels-last pixel stream in the top level: wires <name>_data/_last/_valid/_ready."""
    name: str
    channels: int
    bits: int
    signed: bool
    frac: int
    height: int
    width: int

    @property
    def width_bits(self) -> int:
        return self.channels * self.bits


def ident(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if re.match(r"[A-Za-z]", s) else "l_" + s


def _hex_words(words: list[int], bits: int) -> str:
    digits = max(1, -(-bits // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)


def _pack(values, bits: int) -> int:
    """Little-endian bit-pack of two's complement codes (element 0 in the low bits)."""
    word, mask = 0, (1 << bits) - 1
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * bits)
    return word


def weight_rom(layer, f: folding.Fold, text: bool = True) -> tuple[str, str, int]:
    """($readmemh text of the weight ROM, of the bias ROM, bias bits); text=False: only the
    bias bits (the resource model needs no ROM text)."""
    bbits = layer.btype.bits if layer.btype else 2
    if not text:
        return "", "", bbits
    from accel.rtl import ddr

    # the words of a DDR weight blob are the ROM's (accel.rtl.ddr holds the order and layout)
    cout, wbits = layer.weight.shape[0], layer.wtype.bits
    nf = folding.out_folds(cout, f.pe)
    words = ddr.weight_words(layer.weight, wbits, f.pe, f.simd, f.par)
    # the last fold's rows beyond cout (PE not dividing it) get bias 0, as their weights
    bias = layer.bias if layer.bias is not None else np.zeros(cout, np.int64)
    bias = np.concatenate([bias, np.zeros(nf * f.pe - cout, np.int64)])
    bwords = [_pack(bias[o * f.pe:(o + 1) * f.pe], bbits) for o in range(nf)]
    return _hex_words(words, f.pe * f.simd * wbits), _hex_words(bwords, f.pe * bbits), bbits


def _params(d: dict) -> str:
    def val(v):
        return f'"{v}"' if isinstance(v, str) else str(int(v))
    return ", ".join(f".{k}({val(v)})" for k, v in d.items())


class Netlist:
    """Collects wires, instances and per-layer records while walking the model's layers."""

    def __init__(self, roms: bool = True):
        self.roms = roms  # False: no ROM text (accel.rtl.resources only needs the parameters)
        self.wires: list[str] = []
        self.body: list[str] = []
        self.mems: dict[str, str] = {}
        self.layers: list[dict] = []
        self.instances: list[tuple[str, str, dict]] = []  # (module, instance, parameters)
        self.ports: list[str] = []        # the top's ports beyond the streams (DDR masters)
        self.ddr: dict = {}               # accel.rtl.ddr.plan of the design (offsets)
        self.blobs: dict[str, bytes] = {}  # DDR layer -> its weight blob (roms only)

    def stream(self, name, channels, bits, signed, frac, h, w, pad=False) -> Stream:
        s = Stream(name, channels, bits, signed, frac, h, w)
        self.wires.append(f"    wire [{s.width_bits - 1}:0] {name}_data;")
        self.wires.append(f"    wire {name}_last, {name}_valid, {name}_ready;"
                          + (f"\n    wire {name}_pad;" if pad else ""))
        return s

    def inst(self, module: str, name: str, params: dict, ports: dict):
        self.instances.append((module, name, dict(params)))
        conns = ",\n        ".join(f".{p}({w})" for p, w in ports.items())
        self.body.append(f"    {module} #({_params(params)}) {name} (\n        .clk(ap_clk), "
                         f".rst_n(ap_rst_n),\n        {conns});\n")


def _ports(prefix: str, s: Stream, pad: bool = False) -> dict:
    """Port map of a block's AXI4-Stream side `prefix` (s, m, a, b, m0, ...) on stream s."""
    d = {f"{prefix}_data": f"{s.name}_data", f"{prefix}_last": f"{s.name}_last",
         f"{prefix}_valid": f"{s.name}_valid", f"{prefix}_ready": f"{s.name}_ready"}
    if pad:
        d[f"{prefix}_pad"] = f"{s.name}_pad"
    return d


def _window(net: Netlist, src: Stream, name: str, k: int, stride: int, pads, oh: int,
            ow: int, zero_pad: bool = True, par: int = 1, chunk: int = 0) -> Stream:
    """The windows of src: one position per beat, or with par = k one column of k positions
    (a k*C-code beat; the MVAU ignores the pad bits, padded positions carry zeros), or with
    chunk < C one position as C/chunk beats of chunk codes (folded max-pools)."""
    top, left = pads[0], pads[1]
    chunk = chunk or src.channels
    win = net.stream(name, chunk * par, src.bits, src.signed, src.frac, oh, ow,
                     pad=par == 1)
    net.inst("accel_swu", f"u_{name}",
             dict(C=src.channels, BITS=src.bits, H=src.height, W=src.width, K=k, S=stride,
                  PT=top, PL=left, OH=oh, OW=ow, ZERO_PAD=int(zero_pad),
                  **({"PAR": par} if par > 1 else {}),
                  **({"CHUNK": chunk} if chunk < src.channels else {})),
             {**_ports("s", src), **_ports("m", win, pad=par == 1),
              **({"m_pad": ""} if par > 1 else {})})
    return win


def conv(net: Netlist, layer, src: Stream, f: folding.Fold, fold_beats: bool = False) -> Stream:
    """fold_beats (a conv whose only consumer is a global pool, fold_beat_convs): the MVAU emits
    a fold of PE codes a beat (M_C = PE), so no Cout-wide output register (accel_mvau or, weights
    in DDR, accel_mvau_tile)."""
    lid = ident(layer.name)
    k = layer.weight.shape[2]  # square (accel.core.kinds)
    beats = folding.beats(layer, f)
    win = folding.windowed(layer)
    cout, oh, ow = layer.shape
    feed = src if not win else _window(net, src, f"{lid}_win", k, layer.stride[0],
                                       layer.pads, oh, ow, par=f.par)
    out = layer.out
    out_shift = layer.out_shift
    # One guard bit over layer.acc_bits, as the verified netlist (cycles, yosys estimate) has it;
    # at least OUT_SHIFT + 2 bits: accel_requant reads the remainder bits below the shift.
    acc_w = max(layer.acc_bits + 1, out_shift + 2)
    wmem, bmem, bbits = weight_rom(layer, f, net.roms)
    net.mems[f"{lid}_b.mem"] = bmem
    lo, hi = arith.code_range(out.bits, out.signed, out.narrow)
    m_c = f.pe if fold_beats and f.pe < cout else cout
    dst = net.stream(lid, m_c, out.bits, out.signed, out.frac, oh, ow)
    params = dict(BEATS=beats, IN_C=feed.channels, IN_BITS=src.bits, IN_SIGNED=int(src.signed),
                  OUT_C=cout, PE=f.pe, SIMD=f.simd, W_BITS=layer.wtype.bits, B_BITS=bbits,
                  ACC_W=acc_w, ACC_SHIFT=layer.acc_shift, BIAS_SHIFT=layer.bias_shift,
                  OUT_SHIFT=out_shift,
                  RELU=int(layer.relu), OUT_BITS=out.bits, LO=lo, HI=hi,
                  **({} if f.tile else {"WEIGHT_FILE": f"{lid}_w.mem"}), BIAS_FILE=f"{lid}_b.mem",
                  **mul.params(f.mul, src.bits, layer.wtype.bits),
                  **({"M_C": m_c} if m_c != cout else {}))
    ports = {**_ports("s", feed, pad=win and f.par == 1),
             **({} if win and f.par == 1 else {"s_pad": "1'b0"}),
             **_ports("m", dst)}
    if f.tile:
        ports.update(_ddr_weights(net, layer, lid, f, feed.channels * beats))
        net.inst("accel_mvau_tile", f"u_{lid}",
                 dict(params, T=f.tile, NPIX=layer.out_pixels), ports)
    else:
        net.mems[f"{lid}_w.mem"] = wmem
        net.inst("accel_mvau", f"u_{lid}", params, ports)
    net.layers.append(dict(name=layer.name, kind="conv", stream=lid, pe=f.pe, simd=f.simd,
                           mul=f.mul, dsps=mul.dsps(f.pe, f.simd, f.mul, src.bits,
                                                    layer.wtype.bits),
                           multipliers=f.multipliers, macs=layer.macs,
                           cycles=folding.layer_cycles(layer, f, m_c != cout), acc_bits=acc_w,
                           window=win, par=f.par, **({"tile": f.tile} if f.tile else {}),
                           **({"codes_per_beat": m_c} if m_c != cout else {})))
    return dst


AXI_MASTER = (  # the top's AXI4 read master per DDR layer: (direction, bits, signal)
    ("output", 1, "arid"), ("output", 32, "araddr"), ("output", 8, "arlen"),
    ("output", 3, "arsize"),
    ("output", 2, "arburst"), ("output", 4, "arcache"), ("output", 3, "arprot"),
    ("output", 1, "arvalid"), ("input", 1, "arready"), ("input", 64, "rdata"),
    ("input", 1, "rid"), ("input", 2, "rresp"), ("input", 1, "rlast"), ("input", 1, "rvalid"),
    ("output", 1, "rready"))


def axi_prefix(lid: str) -> str:
    """The top's AXI4 read port of a DDR layer (ar/r channels only; ARID 0: in order)."""
    return f"m_axi_{lid}"


def _ddr_weights(net: Netlist, layer, lid: str, f: folding.Fold, n: int) -> dict:
    """accel_axi_wread for a tiled conv: reads the layer's blob (accel.rtl.ddr) from
    weights_base + its offset once per tile, free-running from reset (en high: the AXI-Lite
    start and base register are the board step's), into the tile unit's s_w port. Returns
    that port map; adds the top's m_axi_<layer>_* ports and the blob."""
    from accel.rtl import ddr

    wbits = layer.wtype.bits
    ww = f.pe * f.simd * wbits
    words = folding.out_folds(layer.shape[0], f.pe) * (n // f.simd)
    if net.roms:
        net.blobs[layer.name] = ddr.blob_bytes(
            ddr.weight_words(layer.weight, wbits, f.pe, f.simd, f.par), ww)
    offset = net.ddr.get(layer.name, {}).get("offset", 0)
    axi = axi_prefix(lid)
    net.ports += [f"    {d:<6} wire {f'[{b - 1}:0]' if b > 1 else '':<7}{axi}_{sig}"
                  for d, b, sig in AXI_MASTER]
    net.wires.append(f"    wire [{ww - 1}:0] {lid}_w_data;")
    net.wires.append(f"    wire {lid}_w_valid, {lid}_w_ready, {lid}_rd_err;")
    net.inst("accel_axi_wread", f"u_{lid}_rd",
             dict(ADDR_W=32, WORD_BITS=ww, WORDS=words,
                  REPEAT=ddr.tiles(layer.out_pixels, f.tile), MAX_BURSTS=4, FIFO_BEATS=64),
             {"en": "1'b1", "base": f"weights_base + 32'd{offset}", "err": f"{lid}_rd_err",
              **{f"m_axi_{sig}": f"{axi}_{sig}" for _, _, sig in AXI_MASTER},
              "m_w_data": f"{lid}_w_data", "m_w_valid": f"{lid}_w_valid",
              "m_w_ready": f"{lid}_w_ready"})
    return {"s_w_data": f"{lid}_w_data", "s_w_valid": f"{lid}_w_valid",
            "s_w_ready": f"{lid}_w_ready"}


def maxpool(net: Netlist, layer, src: Stream, f: folding.Fold) -> Stream:
    """accel_pool (partial maxima: 2 x OW x C codes of RAM, no line buffer) where each input row
    and column lies in at most two windows (fold.separable: SqueezeNet's 3x3/2 and 2x2/2) and
    the fold does not ask for a line buffer (Fold.line); otherwise accel_swu windows into
    accel_maxpool. PE channels compared per cycle either way."""
    lid = ident(layer.name)
    k = layer.kernel[0]  # square (accel.core.kinds)
    c, oh, ow = layer.shape
    if folding.partial_pool(layer, f):
        dst = net.stream(lid, c, src.bits, src.signed, src.frac, oh, ow)
        net.inst("accel_pool", f"u_{lid}",
                 dict(C=c, BITS=src.bits, SIGNED=int(src.signed), H=src.height, W=src.width,
                      K=k, S=layer.stride[0], PT=layer.pads[0], PL=layer.pads[1], OH=oh, OW=ow,
                      PE=f.pe, OBUF=folding.pool_obuf(ow, layer.stride[0])),
                 {**_ports("s", src), **_ports("m", dst)})
        net.layers.append(dict(name=layer.name, kind="maxpool", stream=lid, pe=f.pe,
                               cycles=folding.layer_cycles(layer, f)))
        return dst
    # folded (PE < C): the line buffer and the windows in chunks of PE codes (a deep, narrow
    # RAM: block RAM by bits, not by a pixel's width)
    win = _window(net, src, f"{lid}_win", k, layer.stride[0], layer.pads, oh, ow,
                  zero_pad=False, chunk=f.pe)
    dst = net.stream(lid, c, src.bits, src.signed, src.frac, oh, ow)
    net.inst("accel_maxpool", f"u_{lid}", dict(C=c, BITS=src.bits, SIGNED=int(src.signed),
                                                BEATS=k * k, PE=f.pe),
             {**_ports("s", win, pad=True), **_ports("m", dst)})
    net.layers.append(dict(name=layer.name, kind="maxpool", stream=lid, pe=f.pe,
                           cycles=folding.layer_cycles(layer, f),
                           **({"line": True} if folding.separable(layer) else {})))
    return dst


def concat(net: Netlist, layer, a: Stream, b: Stream) -> Stream:
    lid = ident(layer.name)
    sha, shb = layer.in_shifts
    ob = layer.out.bits  # max(bits + shift): the inputs have one signedness (accel.core.kinds)
    dst = net.stream(lid, a.channels + b.channels, ob, a.signed, layer.acc_frac, a.height, a.width)
    net.inst("accel_concat", f"u_{lid}",
             dict(CA=a.channels, BA=a.bits, SHA=sha, CB=b.channels, BB=b.bits, SHB=shb,
                  SIGNED=int(a.signed), OB=ob),
             {**_ports("a", a), **_ports("b", b), **_ports("m", dst)})
    net.layers.append(dict(name=layer.name, kind="concat", stream=lid,
                           cycles=folding.fixed_cycles(layer)))
    return dst


def add(net: Netlist, layer, a: Stream, b: Stream) -> Stream:
    """accel_add: both inputs aligned to acc_frac by exact left shifts, summed in ACC_W bits
    (layer.acc_bits holds the exact sum; one guard bit as conv; >= OUT_SHIFT + 2 for
    accel_requant's remainder), requantized like a convolution."""
    lid = ident(layer.name)
    sha, shb = layer.in_shifts
    out = layer.out
    lo, hi = arith.code_range(out.bits, out.signed, out.narrow)
    acc_w = max(layer.acc_bits + 1, layer.out_shift + 2)
    dst = net.stream(lid, a.channels, out.bits, out.signed, out.frac, a.height, a.width)
    net.inst("accel_add", f"u_{lid}",
             dict(C=a.channels, BA=a.bits, SA=int(a.signed), SHA=sha, BB=b.bits,
                  SB=int(b.signed), SHB=shb, ACC_W=acc_w, SHIFT=layer.out_shift,
                  RELU=int(layer.relu), OUT_BITS=out.bits, LO=lo, HI=hi),
             {**_ports("a", a), **_ports("b", b), **_ports("m", dst)})
    net.layers.append(dict(name=layer.name, kind="add", stream=lid, acc_bits=acc_w,
                           cycles=folding.fixed_cycles(layer)))
    return dst


def gap_params(layer, bits: int, signed: bool, in_c: int, rate: int,
               code_beats: bool) -> dict:
    """accel_gap's parameters for a global pool reading in_c codes a beat of `bits`: P = in_c
    when that is less than its C channels (a conv's folds), else ceil(C / rate) (see gap)."""
    out = layer.out
    c = layer.shape[0]
    p = in_c if in_c < c else -(-c // max(rate, 1))
    lo, hi = arith.code_range(out.bits, out.signed, out.narrow)
    return dict(C=c, BITS=bits, SIGNED=int(signed), NPIX=layer.in_pixels, SH=-layer.out_shift,
                OUT_BITS=out.bits, LO=lo, HI=hi, P=p, IN_C=in_c, OUT_C=1 if code_beats else c)


def gap(net: Netlist, layer, src: Stream, rate: int, code_beats: bool = False) -> Stream:
    """accel_gap. src carries whole pixels (C codes a beat) or a conv's folds (fewer codes a
    beat, conv(fold_beats=True)): then it sums those P = src.channels a cycle. On whole pixels it
    sums P = ceil(C / rate) a cycle, rate = the producer's cycles per pixel (at least 1), so a
    pixel's ceil(C/P) <= rate cycles never slow the layer before it. code_beats (the pool is the
    net's output): one code a beat out, so accel_pack holds one code, not C."""
    lid = ident(layer.name)
    out = layer.out
    params = gap_params(layer, src.bits, src.signed, src.channels, rate, code_beats)
    dst = net.stream(lid, params["OUT_C"], out.bits, out.signed, out.frac, 1, 1)
    net.inst("accel_gap", f"u_{lid}", params, {**_ports("s", src), **_ports("m", dst)})
    net.layers.append(dict(name=layer.name, kind="gap", stream=lid, pe=params["P"],
                           cycles=folding.gap_cycles(layer, params["P"]),
                           **({"codes_per_beat": 1} if code_beats else {})))
    return dst


def conv_gaps(qm: QuantModel) -> dict:
    """conv name -> (the global pool reading its output, code_beats) for every global pool fed
    directly by a conv: the pool's P follows that conv's fold (gap_params)."""
    out = {}
    for l in qm.layers:
        if l.kind != "gap":
            continue
        src = next((c for c in qm.layers if c.output == l.inputs[0]), None)
        if src is not None and src.kind == "conv":
            out[src.name] = (l, code_beats(qm, l))
    return out


def code_beats(qm: QuantModel, layer) -> bool:
    """A global pool that is the net's output emits a code a beat (gap)."""
    return layer.output == qm.output and not qm.consumers(layer.output)


def fold_beat_convs(qm: QuantModel) -> set:
    """The convs whose output only a global pool reads: their MVAU may emit a fold a beat
    (conv(fold_beats=True)), the pool summing those PE codes a cycle."""
    return {l.name for l in qm.layers if l.kind == "conv" and l.output != qm.output
            and [c.kind for c in qm.consumers(l.output)] == ["gap"]}


def _rate(qm: QuantModel, tensor: str, folds: dict) -> int:
    """Cycles per output pixel of the layer producing tensor (1: the input, a concat, an add)."""
    layer = next((l for l in qm.layers if l.output == tensor), None)
    if layer is None or layer.kind not in folding.FOLDED:
        return 1
    return pixel_rate(layer, folds.get(layer.name) or folding.full(layer))


def pixel_rate(layer, f: folding.Fold) -> int:
    """Cycles per output pixel of a folded layer (at least 1): the rate a global pool reading
    its whole pixels must keep (gap_params)."""
    return max(1, folding.layer_cycles(layer, f) // layer.out_pixels)


# Bypass FIFO sizing. A fork pushes a pixel only when both branches take it. When the branches
# meet again at an add, the add takes pixel j of both at once, but the long branch (the fire:
# squeeze, expand3x3's window, concat) emits its pixel j only after it has taken pixel j + LEAD,
# LEAD = the sum over its windowed layers of (K-1-PT) * W + (K-1-PL) input pixels (the window's
# lower-right corner; stride 1 and the size kept, as every layer between a bypass's ends). Until
# then the short branch (the bypass, straight or through a 1x1 conv) holds pixels j .. j + LEAD:
# its FIFO takes LEAD + 1 pixels (the LEADs' difference + 1 in general), deadlock-free without
# counting any other register (the fork's and the FIFO's output registers hold two more: DEPTH =
# LEAD - 1 is the exact bound, and LEAD - 2 deadlocks, tests/test_rtl_add.py), plus BYPASS_SLACK
# per block on the long branch: the pixels those blocks hold in their registers while the
# pipeline runs at full rate. Where a branch changes the image size (none in the zoo) the other
# gets a whole image, the most any branch needs before its first output.
BYPASS_SLACK = 4


def _reaches(qm: QuantModel, layer, join) -> bool:
    """Does join take layer's output (directly or through other layers)? (layer is join: yes)"""
    todo, seen = [layer], set()
    while todo:
        cur = todo.pop()
        if cur is join:
            return True
        if id(cur) not in seen:
            seen.add(id(cur))
            todo += qm.consumers(cur.output)
    return False


def _join(qm: QuantModel, consumers: list):
    """The first layer (in network order) that both consumers feed, or None."""
    return next((l for l in qm.layers if all(_reaches(qm, c, l) for c in consumers)), None)


def _lead(qm: QuantModel, layer, join) -> tuple[int, int] | None:
    """(LEAD, blocks) of the longest path from layer's input to join's: input pixels it takes in
    beyond pixel j before join sees pixel j, and the blocks on it (layers and forks); (0, 0) for
    join itself; None when a layer on it changes the image size."""
    if layer is join:
        return 0, 0
    _, h, w = layer.in_shapes[0]
    if tuple(layer.shape[1:]) != (h, w):
        return None
    k, (pt, pl) = 1, (0, 0)
    if layer.kind in ("conv", "maxpool"):
        k, (pt, pl) = layer.kernel[0] if layer.kind == "maxpool" else layer.weight.shape[2], \
            layer.pads[:2]
    own = max(k - 1 - pt, 0) * w + max(k - 1 - pl, 0)
    nexts = [c for c in qm.consumers(layer.output) if _reaches(qm, c, join)]
    rest = [_lead(qm, c, join) for c in nexts]
    if any(r is None for r in rest):
        return None
    lead, blocks = max(rest)
    # blocks: the layer's (a window unit too when K > 1) and a fork after it
    return own + lead, 1 + (k > 1) + (len(qm.consumers(layer.output)) > 1) + blocks


def bypass_depths(qm: QuantModel, consumers: list, join, src: Stream) -> list[int]:
    """FIFO depth per branch of a fork whose two branches meet at the add join: the short branch
    gets the rule above, the long one none."""
    leads = [_lead(qm, c, join) for c in consumers]
    if None in leads:
        full = src.height * src.width + BYPASS_SLACK
        return [full if leads[i] is not None or leads[1 - i] is None else 0 for i in range(2)]
    long = max(range(2), key=lambda i: leads[i])
    depth = leads[long][0] - leads[1 - long][0] + 1 + BYPASS_SLACK * leads[long][1]
    return [0 if i == long else depth for i in range(2)]


def branch_fifo_depth(width: int, burst: int = 0) -> int:
    """The FIFO on a fork's branch without a line buffer (fork): two rows + slack, + two bursts
    of a DDR-weight conv's tile."""
    return 2 * width + 8 + 2 * burst


def fork_shape(qm: QuantModel, consumers: list) -> tuple[list[bool], object]:
    """Of a forked tensor's consumers: which start with a line buffer (a windowed conv or a
    pool), and the layer their branches meet at (None if they do not)."""
    return [l.kind != "conv" or folding.windowed(l) for l in consumers], _join(qm, consumers)


def branch_fifos(qm: QuantModel) -> dict:
    """conv name -> (FIFO width in bits, depth without bursts) for each conv that reads a forked
    tensor whose fork puts a FIFO on one branch (build_netlist: two consumers, one windowed, not
    meeting at an add): a tiled fold of that conv deepens the FIFO by 2 tiles (fork's burst)."""
    out = {}
    for t in {l.inputs[0] for l in qm.layers if l.inputs}:
        consumers = qm.consumers(t)
        if len(consumers) != 2:
            continue
        windowed, join = fork_shape(qm, consumers)
        if not any(windowed) or all(windowed) or (join is not None and join.kind == "add"):
            continue
        c, _, w = consumers[0].in_shapes[0]
        bits = consumers[0].in_types[0].bits
        for l in consumers:
            if l.kind == "conv":
                out[l.name] = (c * bits, branch_fifo_depth(w))
    return out


def fork(net: Netlist, src: Stream, consumers: list, windowed: list[bool],
         depths: list[int] | None = None, burst: int = 0) -> list[Stream]:
    """Split src to two consumers. depths: a FIFO depth per branch (0: none), for branches that
    meet at an add (bypass_depths). Otherwise a branch that starts without a line buffer gets a
    FIFO of two rows + slack: the windowed branch swallows about a row before it emits anything,
    and the join (concat) would otherwise stall the fork for good. burst: pixels the windowed
    branch may take at once beyond that (a DDR-weight conv takes a tile of output rows' input,
    then computes it: two tiles of slack keep the fork from waiting on it)."""
    outs = []
    names = [f"{src.name}_f{i}" for i in range(2)]
    branch = [net.stream(n, src.channels, src.bits, src.signed, src.frac, src.height, src.width)
              for n in names]
    net.inst("accel_fork", f"u_{src.name}_fork", dict(W=src.width_bits),
             {**_ports("s", src), **_ports("m0", branch[0]), **_ports("m1", branch[1])})
    if depths is None:
        depths = [0 if win or not any(windowed) else branch_fifo_depth(src.width, burst)
                  for win in windowed]
    for s, depth in zip(branch, depths):
        if not depth:
            outs.append(s)
            continue
        q = net.stream(f"{s.name}_q", s.channels, s.bits, s.signed, s.frac, s.height, s.width)
        net.inst("accel_fifo", f"u_{s.name}_q", dict(W=s.width_bits, DEPTH=depth),
                 {**_ports("s", s), **_ports("m", q)})
        outs.append(q)
    return outs


def build_netlist(qm: QuantModel, folds: dict,
                  roms: bool = True) -> tuple[Netlist, Stream, Stream]:
    """folds: layer name -> Fold for every conv (and max-pools; one left out compares all its
    channels per cycle)."""
    kinds.refuse(qm, "rtl")
    net = Netlist(roms)
    from accel.rtl import ddr

    net.ddr = ddr.plan(qm, folds)
    c, h, w = qm.input_shape
    it = qm.input_type
    inp = net.stream("pixels", c, it.bits, it.signed, it.frac, h, w)
    net.inst("accel_unpack", "u_unpack", dict(C=c, BITS=it.bits, VALUES=c * h * w),
             {"s_data": "s_axis_tdata", "s_last": "s_axis_tlast", "s_valid": "s_axis_tvalid",
              "s_ready": "s_axis_tready", **_ports("m", inp)})
    tensors = {qm.input_name: inp}
    pending: dict[str, list[Stream]] = {}  # fork outputs not yet consumed, per tensor

    def take(tensor: str, layer) -> Stream:
        if tensor in pending:
            return pending[tensor].pop(0)
        consumers = qm.consumers(tensor)
        if len(consumers) == 1:
            return tensors[tensor]
        windowed, join = fork_shape(qm, consumers)  # two consumers (kinds)
        depths = (bypass_depths(qm, consumers, join, tensors[tensor])
                  if join is not None and join.kind == "add" else None)
        tiles = [folds[l.name].tile for l in consumers
                 if l.kind == "conv" and l.name in folds and folds[l.name].tile]
        pending[tensor] = fork(net, tensors[tensor], consumers, windowed, depths,
                               max(tiles, default=0))
        return pending[tensor].pop(0)

    beats = fold_beat_convs(qm)
    for layer in qm.layers:
        srcs = [take(i, layer) for i in layer.inputs]
        if layer.kind == "conv":
            out = conv(net, layer, srcs[0], folds[layer.name], layer.name in beats)
        elif layer.kind == "maxpool":
            out = maxpool(net, layer, srcs[0], folds.get(layer.name) or folding.full(layer))
        elif layer.kind == "concat":
            out = concat(net, layer, *srcs)
        elif layer.kind == "add":
            out = add(net, layer, *srcs)
        else:  # gap: accel.core.kinds has refused every kind without an RTL block
            out = gap(net, layer, srcs[0], _rate(qm, layer.inputs[0], folds),
                      code_beats(qm, layer))
        tensors[layer.output] = out
    res = tensors[qm.output]  # whole pixels, or one code a beat from a global pool
    net.inst("accel_pack", "u_pack", dict(C=res.channels, BITS=res.bits, SIGNED=int(res.signed)),
             {**_ports("s", res), "m_data": "m_axis_tdata", "m_keep": "m_axis_tkeep",
              "m_last": "m_axis_tlast", "m_valid": "m_axis_tvalid", "m_ready": "m_axis_tready"})
    return net, inp, res
