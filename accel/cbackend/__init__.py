"""Stage: plain C99 inference for a model file (golden arithmetic, integer only, no dependencies).

`accel c --model M --out DIR [--arm]` writes DIR/accel_model.c (weights as const integer arrays),
accel_model.h (API), main.c (demo: raw uint8 images in, class + scores out) and a Makefile, and
compiles the host demo (with --arm also a static Cortex-A9 binary for the Zynq's ARM cores).
Verify levels: `c` runs the host build, `c-arm` the ARM build under qemu-arm; both are compared with
the golden model layer by layer through the -DACCEL_TRACE build.

The backends' one face: write(qm, out_dir) the project, project_for(qm) the cached one,
trace(qm, x) final and per-layer codes on images.
"""

from accel.cbackend.build import binary, compile_demo, project_for, run, trace, write
from accel.cbackend.generate import source_files
from accel.cbackend.plan import plan

__all__ = ["binary", "compile_demo", "plan", "project_for", "run", "source_files", "trace", "write"]
