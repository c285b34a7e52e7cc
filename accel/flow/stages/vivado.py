"""Stage vivado: the board flow TCL (vivado/) with the generated params.tcl -> <name>.bit +
<name>.hwh and the utilization and timing reports (needs vivado; prepared and pending without
it)."""

import json

from accel.core import cache
from accel.flow import vivado, vivado_reports


def accelerator(ctx) -> tuple[dict, bool]:
    """The accelerator as the block design needs it (from the hls or rtl stage's metadata), and
    whether its IP is ready (the HLS IP needs the vitis stage's zip)."""
    if ctx.backend == "hls":
        meta = json.loads((ctx.root / "hls" / "project" / "accel_hls.json").read_text())
        desc = vivado.accel_from_hls(meta, "../vitis/accel_ip.zip")
        ready = ctx.info.get("vitis", {}).get("status") == "done"
    else:
        rtl_dir = ctx.root / "rtl" / "accel"
        meta = json.loads((rtl_dir / "accel_rtl.json").read_text())
        desc = vivado.accel_from_rtl(meta, rtl_dir, "../rtl/accel")
        ready = True
    return desc, ready


def key(ctx, desc: dict | None = None) -> str:
    """The accelerator, the board file and the build's clock (it may differ from the file's)."""
    upstream = ctx.keys["vitis" if ctx.backend == "hls" else "rtl"]
    desc = accelerator(ctx)[0] if desc is None else desc
    # accel.vivado: the TCL scripts flow/vivado.py copies (package data, not an import)
    return cache.key("vivado", upstream, ctx.board.name, desc, ctx.board.clock_mhz,
                     cache.module_hash(__name__, "accel.vivado"), cache.file_hash(ctx.board.path))


def run(ctx) -> dict:
    desc, ready = accelerator(ctx)
    folder = ctx.root / "vivado"

    def prepare(tmp):
        vivado.write(tmp, ctx.board, ctx.name, desc)

    def finished(f):
        files = vivado.outputs(f, ctx.name)
        if files is None:
            return None
        util = vivado_reports.utilization(files["utilization"].read_text())
        timing = vivado_reports.timing(files["timing"].read_text())
        return {"bit": files["bit"].name, "hwh": files["hwh"].name, "utilization": util,
                "timing": timing,
                "note": f"{files['bit'].name} + {files['hwh'].name}; WNS "
                        f"{timing['wns_ns']} ns ({'met' if timing['met'] else 'NOT MET'})"}

    params = vivado.params(ctx.board, ctx.name, desc)
    info = ctx.tool_stage("vivado", key(ctx, desc), prepare, vivado.tool() is not None, ready, vivado.run,
                          finished, vivado.command(folder))
    info["params"] = {k: v for k, v in params.items() if k != "ps7_config"}
    return info
