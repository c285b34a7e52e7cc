"""The mapper's view of the resource model (accel.rtl.resources): what a fold of one layer
costs, [LUT, FF, DSP, BRAM36], and what no fold changes. The mapper asks for thousands of folds,
so a layer's instances are built once per shape (netlist.conv / maxpool) and a fold only patches
its MVAU's parameters; a fold's side effects outside its layer (the branch FIFO a tiled conv
deepens, the global pool a conv's fold sizes) are priced with it."""

from accel.rtl.resources import KEYS, add_counts, instance

_CONV: dict = {}  # id(layer) -> (layer, {fold: cost})


def layer_instances(layer, fold, fold_beats: bool = False) -> list:
    """(module, instance, parameters) of what accel.rtl.netlist builds for a folded layer and a
    fold: a conv's accel_mvau and, when windowed, its accel_swu (the window's PAR follows the
    fold); a max-pool's accel_pool (or accel_swu and accel_maxpool). netlist.conv / maxpool run
    once per layer and PAR (a max-pool once per PE and build: its memories hold PE-code words);
    a conv's PE, SIMD and multiplier style only change the MVAU's parameters, patched in here:
    the mapper asks for thousands. fold_beats: a conv before a global pool
    (netlist.fold_beat_convs), its MVAU emitting PE codes a beat."""
    from accel.rtl import fold as folding
    from accel.rtl import mul
    from accel.rtl import netlist as generate

    # a max-pool's memories follow its PE (PE-code words) and build: built per (PE, line)
    pe = (fold.pe, fold.line) if layer.kind == "maxpool" else None
    key = (id(layer), fold.par, fold.tile, fold_beats, pe)
    hit = _SHAPES.get(key)
    if hit is None or hit[0] is not layer:
        c, h, w = layer.in_shapes[0]
        t = layer.in_types[0]
        net = generate.Netlist(roms=False)
        src = generate.Stream("x", c, t.bits, t.signed, t.frac, h, w)
        if layer.kind == "maxpool":
            generate.maxpool(net, layer, src, fold)
        else:
            generate.conv(net, layer, src, folding.Fold(1, 1, "dsp", fold.par, fold.tile),
                          fold_beats)
        hit = _SHAPES[key] = (layer, net.instances)
    out = []
    for module, name, params in hit[1]:
        if module in ("accel_mvau", "accel_mvau_tile"):
            params = {k: v for k, v in params.items() if k not in ("MUL", "LANES", "M_C")}
            params.update(PE=fold.pe, SIMD=fold.simd,
                          **mul.params(fold.mul, params["IN_BITS"], params["W_BITS"]),
                          **({"M_C": fold.pe} if fold_beats and fold.pe < params["OUT_C"]
                             else {}))
        elif module == "accel_axi_wread":  # its word: one fold's PE x SIMD weights
            params = {**params, "WORD_BITS": fold.pe * fold.simd * layer.wtype.bits,
                      "WORDS": folding.out_folds(layer.shape[0], fold.pe)
                      * (layer.fan_in // fold.simd)}
        out.append((module, name, params))
    return out


_SHAPES: dict = {}  # (id(layer), par, tile, fold_beats, pool (PE, line)) -> (layer, instances)


def conv_params(layer, fold) -> dict:
    """accel_mvau's parameters for a conv and a fold (as generate.conv writes them)."""
    return next(p for m, _, p in layer_instances(layer, fold)
                if m in ("accel_mvau", "accel_mvau_tile"))


def fold_cost(layer, fold, fold_beats: bool = False) -> list:
    """[LUT, FF, DSP, BRAM36] of a folded layer's fold-dependent part (a conv's accel_mvau and
    window unit, a max-pool's pool (and window unit)); remembered per layer and fold (the mapper
    asks again for every board it tries). fold_beats: as layer_instances."""
    hit = _CONV.get(id(layer))
    if hit is None or hit[0] is not layer:
        hit = _CONV[id(layer)] = (layer, {})
    memo = hit[1]
    if (fold, fold_beats) not in memo:
        total = {}
        for module, _, params in layer_instances(layer, fold, fold_beats):
            total = add_counts(total, instance(module, params))
        memo[fold, fold_beats] = [total.get(k, 0) for k in KEYS]
    return list(memo[fold, fold_beats])


def conv_cost(qm):
    """The mapper's cost(layer, fold) for qm: fold_cost with the convs before a global pool
    emitting a fold a beat, as accel.rtl.netlist builds them; a tiled fold of a conv behind a
    fork with a branch FIFO also pays for that FIFO's two tiles more depth (netlist.fork's
    burst; when both of the fork's convs are tiled each pays its own: the netlist deepens by
    the larger, so the plan errs on the safe side)."""
    from accel.rtl.netlist import (branch_fifos, conv_gaps, fold_beat_convs, gap_params,
                                    pixel_rate)

    beats, fifos, gaps = fold_beat_convs(qm), branch_fifos(qm), conv_gaps(qm)

    def cost(layer, fold):
        c = fold_cost(layer, fold, layer.name in beats)
        if layer.name in gaps:  # the global pool it feeds: its P follows this fold
            g, codes = gaps[layer.name]
            fb = layer.name in beats and fold.pe < layer.shape[0]
            p = gap_params(g, layer.out.bits, layer.out.signed,
                           fold.pe if fb else layer.shape[0], pixel_rate(layer, fold), codes)
            gi = instance("accel_gap", p)
            c = [v + gi[k] for v, k in zip(c, KEYS)]
        if fold.tile and layer.name in fifos:
            w, d = fifos[layer.name]
            deep, base = (instance("accel_fifo", dict(W=w, DEPTH=d + 2 * fold.tile)),
                          instance("accel_fifo", dict(W=w, DEPTH=d)))
            c = [v + deep[k] - base[k] for v, k in zip(c, KEYS)]
        return c
    return cost


def fixed_cost(qm) -> list:
    """[LUT, FF, DSP, BRAM36] of everything no fold changes: concats, forks, FIFOs, a global
    pool not fed by a conv and io (every instance but those of the convolutions, max-pools and
    the global pools conv_cost prices with their conv)."""
    from accel.rtl import fold as folding
    from accel.rtl.netlist import build_netlist, conv_gaps, ident

    folds = {l.name: folding.Fold(1, 1) if l.kind == "conv" else folding.full(l)
             for l in qm.layers if l.kind in folding.FOLDED}
    net, _, _ = build_netlist(qm, folds, roms=False)
    folded = {name for l in qm.layers if l.kind in folding.FOLDED
              for _, name, _ in layer_instances(l, folds[l.name])}  # names: fold_beats alike
    folded |= {f"u_{ident(g.name)}" for g, _ in conv_gaps(qm).values()}
    total = {}
    for module, name, params in net.instances:
        if name not in folded:
            total = add_counts(total, instance(module, params))
    return [total.get(k, 0) for k in KEYS]
