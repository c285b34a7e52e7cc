"""Stage: the size report, in the style of the Deep Compression tables, and the accuracy-vs-size plot.

Per conv layer and stage (bits; totals in bytes, rounded up):
    float32    dense, 32-bit floats: (weights + biases) x 32
    quantized  dense integer codes: weights x wbits + biases x bbits (what the model file holds)
    pruned     sparse, fixed width (Han et al.'s CSR with relative index): each entry gap_bits of
               relative index + wbits of value, fillers counted as entries; biases x bbits
    shared     as pruned but each value is a B-bit codebook index, + the codebook (2^B x wbits)
    huffman    the real encoded bitstream (accel.compress.codec): its per-layer bits, and the whole
               stream's byte length as the total (headers, Huffman tables, biases included)
"""

import json
import math
from pathlib import Path

import numpy as np

from accel.compress import codec

STAGES = ("float32", "quantized", "pruned", "shared", "huffman")
STAGE_NAMES = {"huffman": "Huffman"}  # as the plot names a stage where it differs from its key


def layer_rows(layers, stats, share_bits: int, gap_bits: int, wbits: int, bbits: int) -> list:
    """layers: codec.LayerCodes (the final codes); stats: codec.encode's LayerBits (container
    first). Returns one dict per layer."""
    by_name = {s.name: s for s in stats[1:]}
    rows = []
    for layer in layers:
        flat = np.asarray(layer.weight).ravel()
        nb = 0 if layer.bias is None else int(np.asarray(layer.bias).size)
        nz = int(np.count_nonzero(flat))
        k = len(np.unique(flat[flat != 0]))
        entries, pruned_bits = codec.fixed_width_bits(flat, wbits, gap_bits)
        _, shared_bits = codec.fixed_width_bits(flat, share_bits, gap_bits)
        st = by_name.get(layer.name)
        bits = {
            "float32": (flat.size + nb) * 32,
            "quantized": flat.size * wbits + nb * bbits,
            "pruned": pruned_bits + nb * bbits,
            "shared": shared_bits + (2 ** share_bits) * wbits + nb * bbits,
            "huffman": st.total if st else None,
        }
        rows.append({"layer": layer.name, "shape": list(np.asarray(layer.weight).shape),
                     "weights": int(flat.size), "biases": nb, "nonzeros": nz,
                     "density": nz / max(flat.size, 1), "codebook": k, "entries": entries,
                     "bits": bits,
                     "huffman_parts": None if st is None else {
                         "header": st.header, "tables": st.table, "gaps": st.gaps, "indices": st.indices,
                         "biases": st.biases}})
    return rows


def totals(rows, blob_bytes: int | None, container_bits: int = 0) -> dict:
    out = {}
    for stage in STAGES:
        if stage == "huffman":
            if blob_bytes is None:
                continue
            out[stage] = int(blob_bytes)
        else:
            out[stage] = int(math.ceil(sum(r["bits"][stage] for r in rows) / 8))
    return out


def build(qm_src, qm_out, original_codes: dict, blob: bytes, stats, share_bits: int, gap_bits: int,
          wbits: int, bbits: int, acc: dict, settings: dict, n_eval: int, seconds: float) -> dict:
    layers = codec.model_layers(qm_out)
    rows = layer_rows(layers, stats, share_bits, gap_bits, wbits, bbits)
    tot = totals(rows, len(blob))
    weights = sum(r["weights"] for r in rows)
    nonzeros = sum(r["nonzeros"] for r in rows)
    orig_nz = sum(int(np.count_nonzero(c)) for c in original_codes.values())
    accuracy = {
        "float32": acc["quantized"], "quantized": acc["quantized"], "pruned": acc["pruned"],
        "shared": acc["shared"], "huffman": acc["golden"]}
    return {
        "model": str(qm_src.path), "compressed_model": "model.onnx", "bitstream": codec.BITSTREAM,
        "settings": settings,
        "weights": weights, "biases": sum(r["biases"] for r in rows),
        "nonzeros": nonzeros, "density": nonzeros / max(weights, 1),
        "original_nonzeros": orig_nz,
        "layers": rows,
        "container_bits": stats[0].total,
        "bytes": tot,
        "ratio_vs_float32": tot["float32"] / tot["huffman"],
        "ratio_vs_quantized": tot["quantized"] / tot["huffman"],
        "accuracy": accuracy,
        "accuracy_note": (f"on the first {n_eval} test images; 'huffman' is the golden integer "
                          "model of the exported model file, the other stages the Brevitas model "
                          "(bit-exact with golden); float32 and quantized are the same network "
                          "stored two ways; shared = huffman (lossless coding)"),
        "accuracy_kmeans_only": acc.get("clustered"),
        "test_images": n_eval,
        "seconds": round(seconds, 1),
        "decoded_exactly": True,
        "rtl_hook": ("model.onnx is an ordinary accel model file: every backend (golden, hls, c, "
                     "rtl) reads it with accel.core.modelfile.load_model; pruned weights are code 0"),
    }


def _kb(n: int) -> str:
    return f"{n:,} B"


def markdown(rep: dict) -> str:
    s = rep["settings"]
    lines = [f"# accel compress: {Path(rep['model']).name}", "",
             f"sparsity {s['sparsity']} ({s['scope']}), share bits {s['share_bits']}, relative "
             f"index {s['gap_bits']} bits, weights {s['wbits']}-bit, biases {s['bbits']}-bit; "
             f"density {rep['density']:.3f} ({rep['nonzeros']:,} of {rep['weights']:,} weights)", "",
             "| layer | weights | biases | density | codebook | float32 | quantized | pruned | "
             "shared | huffman | ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rep["layers"]:
        b = r["bits"]
        lines.append(f"| {r['layer']} | {r['weights']:,} | {r['biases']} | {r['density'] * 100:.1f} % "
                     f"| {r['codebook']} | " + " | ".join(f"{math.ceil(b[k] / 8):,}" for k in STAGES)
                     + f" | {b['float32'] / b['huffman']:.1f}x |")
    t = rep["bytes"]
    lines.append(f"| (container: magic, global tables, padding) | | | | | | | | | "
                 f"{math.ceil(rep['container_bits'] / 8)} | |")
    lines.append(f"| **total (bytes)** | {rep['weights']:,} | {rep['biases']} | "
                 f"{rep['density'] * 100:.1f} % | | " + " | ".join(f"**{t[k]:,}**" for k in STAGES)
                 + f" | **{rep['ratio_vs_float32']:.1f}x** |")
    acc = rep["accuracy"]
    lines += ["", "Per-layer cells are bytes of that layer's bits (rounded up); totals are exact "
              "bytes; the huffman total is the length of the bitstream file.", "",
              "| stage | bytes | accuracy |", "|---|---:|---:|"]
    for k in STAGES:
        lines.append(f"| {k} | {t[k]:,} | {acc[k] * 100:.2f} % |")
    lines += ["", f"Accuracy {rep['accuracy_note']}.",
              f"Ratio: {rep['ratio_vs_float32']:.1f}x vs float32, {rep['ratio_vs_quantized']:.1f}x "
              f"vs the quantized model file's weights.", "", f"RTL/HLS/C: {rep['rtl_hook']}.", ""]
    return "\n".join(lines)


def plot(series: dict, path, title: str) -> None:
    """series: label -> list of (bytes, accuracy, stage); accuracy vs size, log x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for label, pts in series.items():
        xs = [p[0] for p in pts]
        ys = [p[1] * 100 for p in pts]
        line, = ax.plot(xs, ys, marker="o", label=label)
        by_x = sorted(zip(xs, ys))
        next_y = {x: y2 for (x, _), (_, y2) in zip(by_x, by_x[1:])}  # of the point to the right
        for x, y, stage in zip(xs, ys, [p[2] for p in pts]):  # each point: name, size, accuracy
            below = next_y.get(x, y) > y  # the line rises to the right: a name above crosses it
            ax.annotate(f"{STAGE_NAMES.get(stage, stage)}\n{x:,} B\n{y:.2f} %", (x, y),
                        textcoords="offset points", xytext=(0, -9 if below else 9),
                        ha="center", va="top" if below else "bottom", fontsize=8,
                        color=line.get_color())
    ax.margins(x=0.12, y=0.5)  # room for the names above and below the points
    ax.set_xscale("log")
    ax.set_xlabel("model size (bytes, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def stage_points(rep: dict) -> list:
    return [(rep["bytes"][k], rep["accuracy"][k], k) for k in STAGES]


def write(rep: dict, out_dir) -> None:
    out_dir = Path(out_dir)
    (out_dir / "report.json").write_text(json.dumps(rep, indent=2, sort_keys=True) + "\n")
    (out_dir / "report.md").write_text(markdown(rep))
    s = rep["settings"]
    plot({f"S={s['sparsity']} B={s['share_bits']}": stage_points(rep)}, out_dir / "accuracy_vs_size.png",
         f"{Path(rep['model']).name}: accuracy vs size per Deep Compression stage")
