"""Stage: the HLS backend. Model file -> hls4ml (1.3, io_stream) Vitis HLS C++ project with a
DMA-facing AXI top, golden testbench and Vitis TCL; g++ C simulation compared with the golden model.

    generate.write(model, out_dir, board, config)   write the project (atomically)
    csim.CSim(project).run(x, trace=True)            C-sim outputs and per-layer codes
    hls_trace(qm, x)                                 the `hls` level of accel verify
    vitis.build(project)                             Vitis HLS when it is on PATH

hls4ml is imported lazily: the rest of accel does not need it.
"""

from pathlib import Path

from accel.core import cache

_projects: dict = {}


def project_for(qm, board: str = "zybo") -> Path:
    """A project for this model file with the default configuration, generated once into the cache
    (keyed by the model file's and the generator's contents)."""
    from accel.hls import generate

    key = cache.key(cache.file_hash(qm.path), cache.module_hash("accel.hls.generate"), board)
    return cache.generated("hls/projects", f"{key[:24]}-{board}",
                           lambda d: generate.write(qm, d, board=board))


def hls_trace(qm, x):
    """The `hls` level: C-sim final codes (N, classes) and {layer name: codes NCHW}."""
    from accel.hls.csim import CSim

    project = project_for(qm)
    if project not in _projects:
        _projects[project] = CSim(project)
    return _projects[project].run(x, trace=True)
