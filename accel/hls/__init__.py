"""Stage: the HLS backend. Model file -> hls4ml (1.3, io_stream) Vitis HLS C++ project with a
DMA-facing AXI top, testbench and Vitis TCL; g++ C simulation of it.

    generate.write(model, out_dir, board, config, testbench)   write the project (atomically)
    project_for(qm, board)                   the same, generated once into the cache
    trace(qm, x)                             C-sim outputs and per-layer codes
    csim.CSim(project).run(x, trace=True)    the same for any project
    vitis.build(project)                     Vitis HLS when it is on PATH

Images and golden vectors come in as arrays (from accel.verify, the CLI or the build flow).
hls4ml is imported lazily: the rest of accel does not need it.
"""

from pathlib import Path

from accel.core import cache

_projects: dict = {}


def write(model, out_dir, **options):
    """Write the project for a model file (path or QuantModel) into out_dir, atomically: the
    backends' one face is write / project_for / trace (see accel.hls.generate.write)."""
    from accel.hls import generate

    return generate.write(model, out_dir, **options)


def project_for(qm, board: str = "zybo") -> Path:
    """A project for this model file with the default configuration and no testbench vectors,
    generated once into the cache (keyed by the model file and every module the generator
    imports, so an edit to the stream packing or the IR makes a new one)."""
    from accel.hls import generate

    key = cache.key(cache.file_hash(qm.path), cache.module_hash("accel.hls.generate"), board)
    return cache.generated("hls/projects", f"{key[:24]}-{board}",
                           lambda d: generate.write(qm, d, board=board))


def trace(qm, x):
    """C-sim final codes (N, outputs) and {layer name: codes NCHW} of the default project."""
    from accel.hls.csim import CSim

    project = project_for(qm)
    if project not in _projects:
        _projects[project] = CSim(project)
    return _projects[project].run(x, trace=True)
