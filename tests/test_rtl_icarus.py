"""The RTL on Icarus: small nets of several widths and folds on random images, with random valid
gaps and READY backpressure, 0 mismatches against the golden model; waveforms on request. A file
of its own so these single-threaded Icarus runs and the Verilator runs of test_rtl_network.py go
to different pytest workers.

Icarus is here to show the result does not depend on the simulator (an event-driven, 4-state one
next to Verilator's 2-state cycle model); every library block is also compared on Icarus alone
(test_rtl_blocks.py, every multiplier style). The default tiny-mnist design runs on Icarus in
test_build.py's test_rtl_backend (`accel build --backend rtl`: 2 MNIST test images, 0
mismatches) and on Verilator on 200 MNIST test images (test_rtl_network.py); `benchmarks/rtl.py`
runs 200 images on Icarus and records the figures. (A third copy of that check here, 3 images
on Icarus, cost about as much CPU as the rest of this file.)"""

import numpy as np
import pytest

from accel import golden
from accel.core import stream
from accel.core.modelfile import load_model
from accel.rtl.generate import write as generate
from accel.rtl.sim import simulate
from conftest import random_images

IMAGES = 4  # back to back in the pipeline: the fill, then three initiation intervals


@pytest.mark.parametrize("wbits,abits,final_relu,fps", [(8, 8, False, 20000), (4, 4, True, 5000),
                                                         (6, 6, True, 50000)])
def test_small_nets_bit_exact_icarus(exported, tmp_path, wbits, abits, final_relu, fps):
    """Other bit widths, unsigned and signed classifier outputs, slow and fast folds."""
    _, path = exported(wbits=wbits, abits=abits, final_relu=final_relu)
    qm = load_model(path)
    m = generate(qm, tmp_path / "r", fold={"target_fps": fps})
    x = random_images(IMAGES, 15, seed=wbits)
    res = simulate(tmp_path / "r", x, "icarus", valid_gaps=0.2, backpressure=0.4, seed=wbits)
    got = stream.outputs_nchw(res["outputs"], m["io"]["output"])
    assert np.array_equal(got, golden.run(qm, x))


def test_waveform_on_request(exported, tmp_path):
    _, path = exported()
    generate(path, tmp_path / "r", fold={"target_fps": 50000})
    res = simulate(tmp_path / "r", random_images(1, 15), "icarus", waves=True)
    assert res["waves"] and (tmp_path / "r" / "accel_tb_dma.fst").stat().st_size > 1000
