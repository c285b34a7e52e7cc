"""Stage vitis: Vitis HLS csynth/cosim/IP export of the hls stage's project -> accel_ip.zip (needs
vitis_hls; prepared and pending without it)."""

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from accel.core import cache
from accel.hls import vitis


def csynth_report(folder: Path) -> dict | None:
    """Vitis HLS csynth.xml (latency, interval, resources) when the tool has run, else None."""
    hits = sorted(Path(folder).glob("accel_prj/solution1/syn/report/accel_top_csynth.xml")) or \
        sorted(Path(folder).glob("accel_prj/solution1/syn/report/csynth.xml"))
    if not hits:
        return None
    try:
        root = ET.parse(hits[0]).getroot()
    except ET.ParseError:
        return None

    def val(path):
        el = root.find(path)
        try:
            return int(el.text) if el is not None else None
        except (TypeError, ValueError):
            return None

    res = root.find("AreaEstimates/Resources")
    return {"latency_cycles": val("PerformanceEstimates/SummaryOfOverallLatency/Best-caseLatency"),
            "interval_cycles": val("PerformanceEstimates/SummaryOfOverallLatency/Interval-min"),
            "resources": {c.tag: int(c.text) for c in res if (c.text or "").isdigit()}
            if res is not None else {}}


def key(ctx) -> str:
    return cache.key("vitis", ctx.keys["hls"], cache.module_hash(__name__))


def run(ctx) -> dict:
    folder = ctx.root / "vitis"

    def prepare(tmp):
        shutil.copytree(ctx.root / "hls" / "project", tmp, dirs_exist_ok=True)

    def finished(f):
        if not (f / "accel_ip.zip").is_file():
            return None
        return {"ip_zip": "accel_ip.zip", "csynth": csynth_report(f),
                "note": "accel_ip.zip exported"}

    return ctx.tool_stage("vitis", key(ctx), prepare, vitis.command(folder) is not None, True,
                          lambda f: vitis.build(f), finished, vitis.instructions(folder))
