"""Vitis HLS on a generated project: csim, csynth, cosim and export to an IP catalog zip, by the
project's own build.tcl. Runs only when the vendor tool is on PATH; otherwise says exactly what to
run (nothing here pretends to have synthesized anything).
"""

import os
import shutil
from pathlib import Path

from accel.core import process
from accel.core.errors import AccelError


def command(project) -> list[str] | None:
    """The command line for the Vitis HLS on PATH (None when there is none)."""
    if shutil.which("vitis_hls"):
        return ["vitis_hls", "-f", "build.tcl"]
    if shutil.which("vitis-run"):  # Vitis 2024.1+: vitis_hls is gone, vitis-run drives HLS
        return ["vitis-run", "--mode", "hls", "--tcl", "build.tcl"]
    return None


def instructions(project) -> str:
    """The command to run by hand (the folder quoted: it is pasted into a shell)."""
    return (f"cd {process.sh(project)} && vitis_hls -f build.tcl   "
            "(Vitis 2024.1+: vitis-run --mode hls --tcl build.tcl)")


def build(project, steps: str | None = None) -> dict:
    """Run build.tcl with Vitis HLS if it is installed. Returns {"ran": bool, "command": str,
    "ip_zip": path or None}; without the tool, ran=False and the command to run."""
    project = Path(project)
    if not (project / "build.tcl").is_file():
        raise AccelError(f"{project} has no build.tcl: generate it with `accel hls --out {project}`")
    cmd = command(project)
    if cmd is None:
        return {"ran": False, "command": instructions(project), "ip_zip": None}
    env = dict(os.environ, **({"ACCEL_STEPS": steps} if steps else {}))
    proc = process.run(cmd, cwd=project, env=env)
    if proc.returncode != 0:
        raise AccelError(f"{' '.join(cmd)} failed in {project} (exit {proc.returncode}): see "
                         f"{project}/vitis_hls.log")
    zip_path = project / "accel_ip.zip"
    return {"ran": True, "command": " ".join(cmd),
            "ip_zip": str(zip_path) if zip_path.is_file() else None}
