"""build/<board>/report.md with PNG plots (matplotlib, Agg): accuracy, bit widths, parameters and
bytes, per-layer MACs and cycles, resources against the board's capacity, verification per level.
Written from build.json's state and the stage folders; every figure says where it comes from.
"""

import json
import os
import tempfile
from pathlib import Path

RESOURCES = ("LUT", "FF", "BRAM36", "DSP48E1")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    _plt().close(fig)


def _hls_layers(root: Path) -> list[dict]:
    meta = root / "hls" / "project" / "accel_hls.json"
    return json.loads(meta.read_text())["layers"] if meta.is_file() else []


def resource_rows(state: dict, board) -> list[tuple[str, dict]]:
    """(source, {resource: used}) for every estimate or measurement the build has."""
    rows = []
    early = state.get("fit_early") or {}
    if early:
        rows.append(("lower bound (weights, multipliers)", {k: v["need"] for k, v in early.items()}))
    st = state["stages"]
    for stage, label in (("hls", "HLS estimate"), ("rtl", "RTL estimate")):
        fit = st.get(stage, {}).get("fit")
        if st.get(stage, {}).get("status") == "done" and fit:
            rows.append((label, {k: v["need"] for k, v in fit.items()}))
    util = st.get("vivado", {}).get("utilization")
    if st.get("vivado", {}).get("status") == "done" and util:
        rows.append(("Vivado (routed)", {k: util[k]["used"] for k in RESOURCES if k in util}))
    return rows


def one_width(summary: dict) -> str | None:
    """The sentence report.md has instead of bits.png when every conv layer has the same weight
    width and every layer the same activation width (the plot would be flat bars); else None."""
    convs = [l for l in summary["layers"] if l["kind"] == "conv"]
    w = {l["weight_bits"] for l in convs}
    a = {l["out_bits"] for l in summary["layers"]}
    b = {l["bias_bits"] for l in convs if l.get("bias_bits")}
    if len(w) != 1 or len(a) != 1:
        return None
    return (f"Bit widths: all {len(convs)} conv layers have {w.pop()}-bit weights"
            + (f" ({b.pop()}-bit biases)" if len(b) == 1 else "")
            + f" and all {len(summary['layers'])} layers {a.pop()}-bit activations (input "
            f"{summary['input_type']}): one width each, so no bit-width plot.")


def hls_multiplier_budget(state: dict, board) -> int | None:
    """The DSP48E1s the HLS plan may spend on conv multipliers (hls.yaml; the rest is reserved
    for the AXI wrapper and address logic); None for the RTL backend."""
    if state["backend"] != "hls":
        return None
    if state.get("hls_multiplier_budget") is not None:  # the build's own HLS config
        return int(state["hls_multiplier_budget"])
    from accel.flow.stages import hls as hls_stage

    return int(hls_stage.config(board)["boards"][board.name]["multipliers"])


def plots(root: Path, state: dict, summary: dict, board, folder: Path) -> list[str]:
    plt = _plt()
    made = []
    convs = [l for l in summary["layers"] if l["kind"] == "conv"]
    names = [l["name"] for l in convs]
    x = range(len(convs))

    if one_width(summary) is None:
        fig, ax = plt.subplots(figsize=(9, 3.2))
        ax.bar([i - 0.2 for i in x], [l["weight_bits"] for l in convs], 0.4, label="weights")
        ax.bar([i + 0.2 for i in x], [l["out_bits"] for l in convs], 0.4,
               label="activations (out)")
        ax.set_xticks(list(x), names, rotation=70, fontsize=7)
        ax.set_ylabel("bits")
        ax.set_title("bit widths per conv layer")
        ax.legend(fontsize=8)
        _save(fig, folder / "bits.png")
        made.append("bits.png")

    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.bar(list(x), [l["params"] for l in convs])
    ax.set_xticks(list(x), names, rotation=70, fontsize=7)
    ax.set_ylabel("parameters")
    ax.set_title(f"parameters per layer: {summary['params']:,} total, "
                 f"{summary['quantized_bytes']:,} bytes quantized vs "
                 f"{summary['float32_bytes']:,} bytes float32")
    _save(fig, folder / "params.png")
    made.append("params.png")

    _macs_cycles(plt, root, state, summary, folder / "macs_cycles.png")
    made.append("macs_cycles.png")
    _resources(plt, state, board, folder / "resources.png")
    made.append("resources.png")
    return made


def _macs_cycles(plt, root: Path, state: dict, summary: dict, path: Path) -> None:
    """Every layer (pools, concats and the global pool too): MACs, and cycles per image from the
    HLS estimate and/or the RTL simulation, the slowest layer of each marked: it sets the
    dataflow pipeline's image interval."""
    layers = summary["layers"]
    names = [l["name"] for l in layers]
    x = list(range(len(layers)))
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 5.6), sharex=True)
    a1.bar(x, [l["macs"] for l in layers])
    a1.set_ylabel("MACs / image")
    a1.set_title("per-layer work and cycles (grey names: pool, concat and global-pool layers, "
                 "no MACs)", fontsize=10)
    hls = {r["name"]: r.get("cycles_estimate") for r in _hls_layers(root)}
    rtl = {l["name"]: l.get("cycles_per_image") for l in
           ((state["stages"].get("rtl") or {}).get("verify") or {}).get("layers", [])}
    sources = [(label, colour, [found.get(n) for n in names])
               for label, colour, found in (("HLS estimate", "tab:orange", hls),
                                            ("RTL simulation", "tab:green", rtl))
               if any(found.get(n) is not None for n in names)]
    if sources:
        w = 0.8 / len(sources)
        peak = max(c or 0 for _, _, cyc in sources for c in cyc)
        for j, (label, colour, cyc) in enumerate(sources):
            pos = [i - 0.4 + w * (j + 0.5) for i in x]
            a2.bar(pos, [c or 0 for c in cyc], w, color=colour, label=label)
            k = max(x, key=lambda i: cyc[i] or 0)
            a2.bar(pos[k], cyc[k], w, color=colour, edgecolor="red", linewidth=1.5, hatch="///")
            right = k < len(x) / 2  # the note goes toward the middle, above every bar
            a2.annotate(f"bottleneck ({label}): {names[k]}, {cyc[k]:,.0f} cycles/image "
                        "(sets the image interval)",
                        xy=(pos[k], cyc[k]), xytext=(pos[k] + (1.5 if right else -1.5),
                                                     peak * (1.22 - 0.12 * j)),
                        ha="left" if right else "right", va="center", fontsize=8, color="red",
                        arrowprops={"arrowstyle": "->", "color": "red"})
        a2.set_ylim(0, peak * (1.3 + 0.12 * (len(sources) - 1)))
        a2.set_ylabel("cycles / image")
        a2.legend(fontsize=7, loc="upper right")
    else:
        a2.text(0.5, 0.5, "no cycle figures yet (HLS/RTL stage not run)", ha="center",
                transform=a2.transAxes)
    a2.set_xticks(x, names, rotation=70, fontsize=7)
    for label, layer in zip(a2.get_xticklabels(), layers):
        if layer["kind"] != "conv":
            label.set_color("dimgray")
            label.set_style("italic")
    _save(fig, path)


def _resources(plt, state: dict, board, path: Path) -> None:
    """Each source's figures in % of the board, "n/a" where a source has none for a resource
    (not an empty bar, which would read as 0 %), the 100 % line and the HLS multiplier budget."""
    rows = resource_rows(state, board)
    cap = board.capacity
    fig, ax = plt.subplots(figsize=(10, 3.8))
    width = 0.8 / max(len(rows), 1)
    peak = 100.0
    for j, (label, used) in enumerate(rows):
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(RESOURCES))]
        pct = {r: 100.0 * used[r] / cap[r] for r in RESOURCES if r in used}
        ax.bar([xs[i] for i, r in enumerate(RESOURCES) if r in pct], list(pct.values()), width,
               color=f"C{j}", label=label)
        for xi, r in zip(xs, RESOURCES):
            if r in pct:
                ax.text(xi, pct[r] + 1.5, f"{pct[r]:.0f} %", ha="center", va="bottom", fontsize=8)
            else:
                ax.text(xi, 1.5, "n/a", ha="center", va="bottom", fontsize=8, color=f"C{j}",
                        fontweight="bold")
        peak = max([peak, *pct.values()])
    ax.axhline(100, color="red", linewidth=1)
    ax.text(-0.45, 101, f"100 % = capacity of {board.name}", color="red", fontsize=8,
            va="bottom")
    budget = hls_multiplier_budget(state, board)
    if budget is not None:
        i = RESOURCES.index("DSP48E1")
        level = 100.0 * budget / cap["DSP48E1"]
        ax.hlines(level, i - 0.45, i + 0.45, colors="darkred", linestyles="--", linewidth=1.2,
                  label=f"HLS multiplier budget: {budget} DSP48E1 ({level:.0f} %)")
    ax.set_xlim(-0.5, len(RESOURCES) - 0.5)
    ax.set_ylim(0, peak * 1.18)
    ax.set_xticks(range(len(RESOURCES)), [f"{r}\n(capacity {cap[r]:,})" for r in RESOURCES])
    ax.set_ylabel(f"% of {board.name}")
    ax.set_title(f"resources vs capacity ({board.part})")
    if any(r not in used for _, used in rows for r in RESOURCES):
        ax.plot([], [], " ", label="n/a: that source has no figure (not 0 %)")
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        last = sorted(range(len(labels)), key=lambda i: labels[i].startswith("n/a"))  # the key last
        ax.legend([handles[i] for i in last], [labels[i] for i in last], fontsize=8,
                  loc="upper left", bbox_to_anchor=(1.01, 1))
    _save(fig, path)


def fold_lines(layers: list) -> list[str]:
    """The RTL fold per layer as a table, the bottleneck (slowest) layer in bold."""
    if not layers:
        return []
    out = ["", "| layer | kind | PE | SIMD | multipliers | DSP48E1 | cycles/image |",
           "|---|---|---|---|---|---|---|"]
    for l in layers:
        name = f"**{l['name']} (bottleneck)**" if l.get("bottleneck") else l["name"]
        cells = [l.get(k) for k in ("kind", "pe", "simd", "mul", "dsps")]
        out.append(f"| {name} | " + " | ".join("" if c is None else str(c) for c in cells)
                   + f" | {l['cycles']:,} |")
    return out + [""]


def markdown(root: Path, state: dict, summary: dict, board, pngs: list[str]) -> str:
    st = state["stages"]
    lines = [f"# accel build: {board.name}", "",
             f"{board.description} ({board.part}"
             + (f", board part `{board.board_part}`" if board.board_part else ", explicit PS7 preset")
             + f"), {board.clock_mhz:g} MHz, {state['backend']} backend. Model `{state['model']}`.",
             "", "## Stages", "", "| stage | status | note |", "|---|---|---|"]
    for name, info in st.items():
        lines.append(f"| {name} | {info.get('status', '')} | {info.get('note', '')} |")
    if state.get("commands"):
        lines += ["", "Vendor tools missing here: run on a machine with them, in order:", "", "```"]
        lines += state["commands"] + ["```"]

    acc = (st.get("golden") or {}).get("accuracy")
    lines += ["", "## Accuracy", ""]
    lines.append(f"Golden integer model: **{acc['accuracy'] * 100:.2f} %** of {acc['images']} "
                 f"images ({acc['source']}). Every level below is bit-exact to it."
                 if acc else "No labelled test images for this model's dataset here.")

    lines += ["", "## Model: bit widths, parameters, bytes", "",
              f"{summary['params']:,} parameters, {summary['quantized_bytes']:,} bytes quantized "
              f"({summary['float32_bytes']:,} bytes as float32), {summary['macs']:,} MACs per "
              f"image, input {summary['input_type']} {tuple(summary['input_shape'])}.", "",
              one_width(summary) or "![bit widths](bits.png)", "", "![parameters](params.png)", "",
              "## Per-layer MACs and cycles", "", "![MACs and cycles](macs_cycles.png)", ""]
    hls = st.get("hls", {})
    if hls.get("status") == "done":
        e = hls["estimate"]
        lines.append(f"HLS estimate ({e['note']}): image interval ~{e['ii_cycles']:,} cycles "
                     f"(slowest {e['slowest_layer']}) = ~{e['images_per_second']:,} images/s at "
                     f"{board.clock_mhz:g} MHz; latency <= {e['latency_bound_cycles']:,} cycles.")
    if (st.get("rtl") or {}).get("fold"):  # the fold the rtl stage chose (fold.yaml layout)
        spec = st["rtl"].get("fold_spec") or {}
        target = f"target {spec['target_fps']:g} images/s, " if "target_fps" in spec else ""
        lines.append(f"RTL fold ({target}{board.clock_mhz:g} MHz): [rtl/{st['rtl']['fold']}]"
                     f"(rtl/{st['rtl']['fold']}); give it back with --fold to keep it.")
        lines += fold_lines(st["rtl"].get("layers") or [])
    rv = (st.get("rtl") or {}).get("verify") or {}
    if rv.get("ii_cycles") or rv.get("latency_cycles"):
        lines.append(f"RTL simulation: latency {rv.get('latency_cycles')} cycles, image interval "
                     f"{rv.get('ii_cycles')} cycles at {board.clock_mhz:g} MHz.")
    cs = st.get("vitis", {}).get("csynth")
    if cs:
        lines.append(f"Vitis HLS csynth: latency {cs['latency_cycles']} cycles, interval "
                     f"{cs['interval_cycles']} cycles, resources {cs['resources']}.")

    lines += ["", "## Resources vs capacity", "", "![resources](resources.png)", "",
              "| source | " + " | ".join(RESOURCES) + " |", "|---|" + "---|" * len(RESOURCES),
              "| capacity | " + " | ".join(f"{board.capacity[r]:,}" for r in RESOURCES) + " |"]
    for label, used in resource_rows(state, board):
        lines.append(f"| {label} | " + " | ".join(
            f"{used[r]:,} ({100.0 * used[r] / board.capacity[r]:.0f} %)" if r in used else "-"
            for r in RESOURCES) + " |")
    t = st.get("vivado", {}).get("timing")
    if st.get("vivado", {}).get("status") == "done" and t:
        lines.append(f"\nTiming: WNS {t['wns_ns']} ns, TNS {t['tns_ns']} ns, WHS {t['whs_ns']} ns "
                     f"({'met' if t['met'] else 'NOT met'}); fmax ~{t['fmax_mhz']} MHz.")

    lines += ["", "## Verification (against the golden model, same images)", "",
              "| level | images | output mismatches | layers compared | layer mismatches |",
              "|---|---|---|---|---|"]
    g = st.get("golden", {})
    if g.get("status") == "done":
        lines.append(f"| golden (reference) | {g['images']} | - | - | - |")
    for stage in ("hls", "rtl"):
        v = st.get(stage, {}).get("verify")
        if stage not in st:
            continue
        if not v or "images" not in v:
            lines.append(f"| {stage} | not available | | | |")
        else:
            lm = v.get("layer_mismatches", {})
            lines.append(f"| {v['level']} | {v['images']} | {v['output_mismatches']} | "
                         f"{len(lm) or '-'} | {sum(lm.values()) if lm else '-'} |")
    if "vitis" in st:
        lines.append(f"| Vitis HLS csim/cosim (build.tcl) | "
                     f"{'ran' if st['vitis'].get('status') == 'done' else 'pending: vitis_hls'} | | | |")
    lines += ["", f"Exit code {state['exit_code']}. State: `build.json`.", ""]
    return "\n".join(lines)


def write(root, state: dict, summary: dict, board) -> Path:
    """report.md and its PNGs, replacing the old ones (each file by rename)."""
    root = Path(root)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".report-tmp-"))
    try:
        pngs = plots(root, state, summary, board, tmp)
        (tmp / "report.md").write_text(markdown(root, state, summary, board, pngs))
        for name in pngs + ["report.md"]:
            os.replace(tmp / name, root / name)
        for stale in {"bits.png"} - set(pngs):  # an earlier report's plot this one does without
            (root / stale).unlink(missing_ok=True)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return root / "report.md"
