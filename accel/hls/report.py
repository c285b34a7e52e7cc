"""The HLS report: per layer the precision, MACs, parameters, strategy / ReuseFactor, multipliers
and cycle estimates; totals for the whole dataflow pipeline.

Cycle figures are estimates from the loop structure of the C++ (no vendor tool here), per image:
- conv, Resource strategy: hls4ml's line-buffer loop visits every (padded) input pixel once and
  spends about ReuseFactor cycles on each output pixel: in_pixels + out_pixels x RF;
- conv, Latency strategy: the pixel loop is pipelined at II = RF: in_pixels x RF;
- accel max-pool, concat, add: one pixel per cycle; global average pool: pixels + channels.
The layers form a DATAFLOW pipeline, so the image interval (II) is about the slowest layer's cycles
and the latency is at most their sum. Vitis HLS' csynth report is the authority once it has run.

Stream FIFOs: hls4ml 1.3 sizes every inter-layer FIFO to a whole tensor; accel keeps that only
inside fork-joins (generate.size_fifos). Their memory is estimated as BRAM36 in 512 x 72 mode for
FIFOs over 8 kbit (smaller ones go to LUTRAM/SRL). hls4ml's own FIFO depth optimization needs Vitis
co-simulation.
"""

import math

from accel.core.ir import QuantModel


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
            mults = p.mult_in * p.mult_out // p.reuse_factor
            cycles = (in_pixels + h * w * p.reuse_factor if p.strategy == "Resource"
                      else in_pixels * p.reuse_factor)
            row.update(strategy=p.strategy, reuse_factor=p.reuse_factor, multipliers=mults,
                       kernel=list(layer.kernel), stride=list(layer.stride))
        elif layer.kind == "gap":
            cycles = ih * iw + c
        else:
            cycles = max(ih * iw, h * w)
        row["cycles_estimate"] = int(cycles)
        rows.append(row)
    return rows


def fifos(model) -> dict:
    """Stream FIFOs between the layers of an hls4ml ModelGraph (before write)."""
    ends = {v.name for v in model.get_input_variables() + model.get_output_variables()}
    bits = bram = count = 0
    for layer in model.get_layers():
        var = layer.get_output_variable()
        pragma = getattr(var, "pragma", None)
        if var.name in ends or not (isinstance(pragma, tuple) and pragma[0] == "stream"):
            continue
        width = var.type.precision.width * var.shape[-1]
        depth = int(pragma[1])
        count += 1
        bits += width * depth
        if width * depth > 8192:
            bram += math.ceil(width / 72) * math.ceil(depth / 512)
    return {"count": count, "bits": int(bits), "bram36_estimate": int(bram)}


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
            f"{'cycles':>7}")
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
            f"{r['cycles_estimate']:7d}")
    lines.append("-" * len(head))
    board = meta["config"]["boards"][meta["board"]]
    fifo = est["fifos"]
    lines.append(f"budget ({meta['board']}): {est['multipliers']} conv multipliers of "
                 f"{board['dsp48']} DSP48E1; {fifo['count']} stream FIFOs, "
                 f"{fifo['bits'] / 1024:.0f} kbit, ~{fifo['bram36_estimate']} of {board['bram36']} "
                 f"BRAM36 (fifo_depth: {meta['config'].get('fifo_depth', 'reconvergent')})")
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
