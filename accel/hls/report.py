"""The HLS report: per layer the precision, MACs, parameters, strategy / ReuseFactor, multipliers
and cycle estimates; totals for the whole dataflow pipeline.

Cycle figures are estimates from the loop structure of the C++ (no vendor tool here), per image:
- conv, Resource strategy: hls4ml's line-buffer loop visits every (padded) input pixel once and
  spends about ReuseFactor cycles on each output pixel: in_pixels + out_pixels x RF;
- conv, Latency strategy: the pixel loop is pipelined at II = RF: in_pixels x RF;
- accel max-pool, concat, add: one pixel per cycle; global average pool: pixels + channels.
The layers form a DATAFLOW pipeline, so the image interval (II) is about the slowest layer's cycles
and the latency is at most their sum. Vitis HLS' csynth report is the authority once it has run.

Resources, checked against the board before anything is written (generate.write):
- DSP48E1 = the conv multipliers, ceil(n_in x n_out / ReuseFactor) per conv (hls4ml's dense view:
  n_in = kernel x in channels, n_out = filters), one DSP48E1 each. An upper bound: Vivado may build
  a product of operands under 10 bits from LUTs instead (accel's are 2-8 bits); the multiplier
  count is the budget either way (hls.yaml `multipliers`).
- BRAM36 = conv weights + stream FIFOs. A memory of width x depth bits goes to BRAM when it holds
  over 8 kbit (smaller ones: LUTRAM/SRL), in the BRAM36 aspect ratio that needs the fewest blocks
  (512 x 72, 1K x 36, 2K x 18, 4K x 9, 8K x 4, 16K x 2, 32K x 1; halves as BRAM18 are not counted).
  Weights: with the Resource strategy and ReuseFactor RF > 1 hls4ml reshapes each conv's weights
  into a ROM of depth RF and width ceil(n_in x n_out / RF) x weight bits (nnet_dense_resource.h:
  ARRAY_RESHAPE block factor); RF = 1 and the Latency strategy partition them into registers, as
  the biases always are. Stream FIFOs: hls4ml 1.3 sizes every inter-layer FIFO to a whole tensor;
  accel keeps that only inside fork-joins (generate.size_fifos); a FIFO is width (bits x channels)
  x depth. Line buffers (kernel rows - 1 shift registers of a row per channel) and accel's pool
  buffers are split per channel into small SRL/LUTRAM memories and not counted. hls4ml's own FIFO
  depth optimization needs Vitis co-simulation.
- The design fits when both are within the board's share accel.core.boards.RESERVE (BRAM36 90 %,
  DSP48E1 100 %: the rest is for the AXI DMA and interconnect).
"""

import math

from accel.core import boards
from accel.core.ir import QuantModel

LUTRAM_BITS = 8192  # memories up to this size go to LUTRAM/SRL, larger ones to BRAM
BRAM36_MODES = ((72, 512), (36, 1024), (18, 2048), (9, 4096), (4, 8192), (2, 16384), (1, 32768))


def layers(qm: QuantModel, planned) -> list[dict]:
    rows = []
    for p in planned:
        layer = p.layer
        c, h, w = layer.shape
        ic, ih, iw = layer.in_shapes[0]
        row = {"name": layer.name, "hls": p.hls, "kind": layer.kind, "shape_chw": [c, h, w],
               "out": {"bits": layer.out.bits, "signed": layer.out.signed,
                       "frac": layer.out.frac, "type": layer.out.describe()},
               "precision": dict(p.precision), "macs": layer.macs, "params": int(layer.params)}
        if layer.kind == "conv":
            top, left, bottom, right = layer.pads
            in_pixels = (ih + top + bottom) * (iw + left + right)
            mults = multipliers(p)
            cycles = (in_pixels + h * w * p.reuse_factor if p.strategy == "Resource"
                      else in_pixels * p.reuse_factor)
            row.update(strategy=p.strategy, reuse_factor=p.reuse_factor, multipliers=mults,
                       kernel=list(layer.kernel), stride=list(layer.stride),
                       weight_bram36=weight_bram36(p))
        elif layer.kind == "gap":
            cycles = ih * iw + c
        else:
            cycles = max(ih * iw, h * w)
        row["cycles_estimate"] = int(cycles)
        rows.append(row)
    return rows


def multipliers(p) -> int:
    """Multipliers of a planned conv: hls4ml's block factor ceil(n_in x n_out / ReuseFactor)."""
    return math.ceil(p.mult_in * p.mult_out / p.reuse_factor)


def bram36(width: int, depth: int) -> int:
    """BRAM36 blocks of a width x depth memory (0: small enough for LUTRAM/SRL)."""
    if width * depth <= LUTRAM_BITS:
        return 0
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in BRAM36_MODES)


def weight_rom(p) -> tuple[int, int] | None:
    """(width, depth) of a planned conv's weight ROM, None when its weights are registers."""
    if p.layer.kind != "conv" or p.strategy != "Resource" or p.reuse_factor <= 1:
        return None
    return multipliers(p) * p.layer.wtype.bits, p.reuse_factor


def weight_bram36(p) -> int:
    rom = weight_rom(p)
    return bram36(*rom) if rom else 0


def weights(planned) -> dict:
    roms = [weight_rom(p) for p in planned]
    return {"roms": sum(r is not None for r in roms),
            "bits": int(sum(w * d for w, d in filter(None, roms))),
            "bram36_estimate": sum(weight_bram36(p) for p in planned)}


def fifos(streams) -> dict:
    """Stream FIFOs between the layers, [(width bits, depth)] (generate.fifo_shapes)."""
    return {"count": len(streams), "bits": int(sum(w * d for w, d in streams)),
            "bram36_estimate": sum(bram36(w, d) for w, d in streams)}


def resources(planned, fifo: dict) -> dict:
    """DSP48E1 and BRAM36 of the design (rules in the module docstring)."""
    w = weights(planned)
    return {"DSP48E1": sum(multipliers(p) for p in planned if p.layer.kind == "conv"),
            "BRAM36": w["bram36_estimate"] + fifo["bram36_estimate"],
            "BRAM36_weights": w["bram36_estimate"], "BRAM36_fifos": fifo["bram36_estimate"]}


def room(board: dict) -> dict:
    """What a design may use of an hls.yaml board entry: its share boards.RESERVE."""
    return {"DSP48E1": int(board["dsp48"] * boards.RESERVE["DSP48E1"]),
            "BRAM36": int(board["bram36"] * boards.RESERVE["BRAM36"])}


def short(res: dict, board: dict) -> list[str]:
    """The resources of res over the board's room (empty: it fits)."""
    r = room(board)
    return [k for k in ("BRAM36", "DSP48E1") if res[k] > r[k]]


def totals(rows: list[dict], clock_ns: float) -> dict:
    ii = max(r["cycles_estimate"] for r in rows)
    slowest = next(r["name"] for r in rows if r["cycles_estimate"] == ii)
    return {"macs": sum(r["macs"] for r in rows), "params": sum(r["params"] for r in rows),
            "multipliers": sum(r.get("multipliers", 0) for r in rows),
            "ii_cycles": ii, "slowest_layer": slowest,
            "latency_bound_cycles": sum(r["cycles_estimate"] for r in rows),
            "images_per_second": round(1e9 / (ii * clock_ns), 1),
            "note": "estimates from the C++ loop structure, not from a Vitis HLS report"}


def text(meta: dict) -> str:
    rows, est = meta["layers"], meta["estimate"]
    head = (f"{'layer':22} {'kind':7} {'out C,H,W':12} {'result type':30} {'weight':14} "
            f"{'accum':14} {'MACs':>9} {'params':>7} {'strategy':8} {'RF':>5} {'mults':>5} "
            f"{'BRAM36':>6} {'cycles':>7}")
    lines = [f"accel hls report: {meta['model']['file']} -> {meta['board']} ({meta['part']}), "
             f"{meta['clock_period_ns']} ns clock, hls4ml {meta['hls4ml']['version']} io_stream",
             head, "-" * len(head)]
    for r in rows:
        p = r["precision"]
        lines.append(
            f"{r['name']:22} {r['kind']:7} {','.join(map(str, r['shape_chw'])):12} "
            f"{p.get('result', ''):30} {p.get('weight', '-'):14} {p.get('accum', '-'):14} "
            f"{r['macs']:9d} {r['params']:7d} {r.get('strategy', '-'):8} "
            f"{r.get('reuse_factor', '-')!s:>5} {r.get('multipliers', '-')!s:>5} "
            f"{r.get('weight_bram36', '-')!s:>6} {r['cycles_estimate']:7d}")
    lines.append("-" * len(head))
    board = meta["config"]["boards"][meta["board"]]
    fifo, wts, res, rm = est["fifos"], est["weights"], est["resources"], est["room"]
    lines.append(f"budget ({meta['board']}): {res['DSP48E1']} DSP48E1 (conv multipliers) of "
                 f"{board['dsp48']}; ~{res['BRAM36']} of {board['bram36']} BRAM36 (room "
                 f"{rm['BRAM36']}): weights ~{wts['bram36_estimate']} ({wts['roms']} ROMs, "
                 f"{wts['bits'] / 1024:.0f} kbit), {fifo['count']} stream FIFOs "
                 f"~{fifo['bram36_estimate']} ({fifo['bits'] / 1024:.0f} kbit, fifo_depth: "
                 f"{meta['config'].get('fifo_depth', 'reconvergent')})")
    lines.append(f"total: {est['macs']} MACs, {est['params']} parameters, {est['multipliers']} "
                 f"multipliers; image interval ~{est['ii_cycles']} cycles (slowest: "
                 f"{est['slowest_layer']}) = ~{est['images_per_second']} images/s, latency <= "
                 f"{est['latency_bound_cycles']} cycles ({est['note']})")
    io_ = meta["io"]
    lines.append(f"in : {io_['input']['words']} x 32-bit words/image ({io_['input']['layout']} "
                 f"uint8, 4 per word); out: {io_['output']['words']} x 32-bit words/image "
                 f"(int32 codes, {'s' if io_['output']['signed'] else 'u'}{io_['output']['code_bits']}"
                 f" * 2^-{io_['output']['frac']}), TLAST on the last")
    return "\n".join(lines) + "\n"
