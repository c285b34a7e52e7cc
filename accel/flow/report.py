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


def plots(root: Path, state: dict, summary: dict, board, folder: Path) -> list[str]:
    plt = _plt()
    made = []
    convs = [l for l in summary["layers"] if l["kind"] == "conv"]
    names = [l["name"] for l in convs]
    x = range(len(convs))

    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.bar([i - 0.2 for i in x], [l["weight_bits"] for l in convs], 0.4, label="weights")
    ax.bar([i + 0.2 for i in x], [l["out_bits"] for l in convs], 0.4, label="activations (out)")
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

    hls_rows = {r["name"]: r for r in _hls_layers(root)}
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    a1.bar(list(x), [l["macs"] for l in convs])
    a1.set_ylabel("MACs / image")
    a1.set_title("per-layer work and cycles")
    cycles = [hls_rows.get(n, {}).get("cycles_estimate") for n in names]
    rtl = {l["name"]: l for l in ((state["stages"].get("rtl") or {}).get("verify") or {})
           .get("layers", [])}
    rtl_cycles = [rtl.get(n, {}).get("cycles_per_image") for n in names]
    if any(c is not None for c in cycles) or any(c is not None for c in rtl_cycles):
        both = any(c is not None for c in cycles) and any(c is not None for c in rtl_cycles)
        w = 0.4 if both else 0.8
        if any(c is not None for c in cycles):
            a2.bar([i - (0.2 if both else 0) for i in x], [c or 0 for c in cycles], w,
                   color="tab:orange", label="HLS estimate")
        if any(c is not None for c in rtl_cycles):
            a2.bar([i + (0.2 if both else 0) for i in x], [c or 0 for c in rtl_cycles], w,
                   color="tab:green", label="RTL simulation")
        a2.set_ylabel("cycles / image")
        a2.legend(fontsize=7)
    else:
        a2.text(0.5, 0.5, "no cycle figures yet (HLS/RTL stage not run)", ha="center",
                transform=a2.transAxes)
    a2.set_xticks(list(x), names, rotation=70, fontsize=7)
    _save(fig, folder / "macs_cycles.png")
    made.append("macs_cycles.png")

    rows = resource_rows(state, board)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / max(len(rows), 1)
    for j, (label, used) in enumerate(rows):
        ax.bar([i + j * width for i in range(len(RESOURCES))],
               [100.0 * used.get(r, 0) / board.capacity[r] for r in RESOURCES], width, label=label)
    ax.axhline(100, color="red", linewidth=1)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(RESOURCES))],
                  [f"{r}\n({board.capacity[r]:,})" for r in RESOURCES])
    ax.set_ylabel(f"% of {board.name}")
    ax.set_title(f"resources vs capacity ({board.part})")
    if rows:
        ax.legend(fontsize=7)
    _save(fig, folder / "resources.png")
    made.append("resources.png")
    return made


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
              "![bit widths](bits.png)", "", "![parameters](params.png)", "",
              "## Per-layer MACs and cycles", "", "![MACs and cycles](macs_cycles.png)", ""]
    hls = st.get("hls", {})
    if hls.get("status") == "done":
        e = hls["estimate"]
        lines.append(f"HLS estimate ({e['note']}): image interval ~{e['ii_cycles']:,} cycles "
                     f"(slowest {e['slowest_layer']}) = ~{e['images_per_second']:,} images/s at "
                     f"{board.clock_mhz:g} MHz; latency <= {e['latency_bound_cycles']:,} cycles.")
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
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return root / "report.md"
