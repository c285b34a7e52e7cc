"""Stage: the HLS backend. Model file -> hls4ml (1.3, io_stream) Vitis HLS C++ project with a
DMA-facing AXI top, golden testbench and Vitis TCL; g++ C simulation compared with the golden model.

    convert.convert(model, out_dir, board, config)   write the project (atomically)
    csim.CSim(project).run(x, trace=True)            C-sim outputs and per-layer codes
    hls_trace(qm, x)                                 the `hls` level of accel verify
    vitis.build(project)                             Vitis HLS when it is on PATH

hls4ml is imported lazily: the rest of accel does not need it.
"""

import hashlib
from pathlib import Path

_projects: dict = {}


def project_for(qm, board: str = "zybo") -> Path:
    """A project for this model file with the default configuration, generated once into the cache
    (keyed by the model file's and the generator's contents)."""
    from accel.hls import convert, csim

    h = hashlib.sha256(Path(qm.path).read_bytes())
    here = Path(__file__).parent
    for f in sorted(here.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".h", ".cpp", ".tcl", ".sh", ".yaml", ".md"):
            h.update(f.read_bytes())
    key = h.hexdigest()[:24]
    path = csim.cache_root() / "hls" / "projects" / f"{key}-{board}"
    if not (path / "accel_hls.json").is_file():
        convert.convert(qm, path, board=board, force=True)
    return path


def hls_trace(qm, x):
    """The `hls` level: C-sim final codes (N, classes) and {layer name: codes NCHW}."""
    from accel.hls.csim import CSim

    project = project_for(qm)
    if project not in _projects:
        _projects[project] = CSim(project)
    return _projects[project].run(x, trace=True)
