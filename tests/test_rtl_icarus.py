"""The RTL on Icarus: the whole tiny-mnist design on MNIST test images and small nets of other widths
and folds on random images, with random valid gaps and READY backpressure, 0 mismatches against
the golden model; waveforms on request. A file of its own so these single-threaded Icarus runs and
the Verilator runs of test_rtl_network.py go to different pytest workers.

Why 3 tiny-mnist images: Verilator already compares 200 MNIST images of this design bit for bit
(test_rtl_network.py); Icarus is here to show the result does not depend on the simulator (an
event-driven, 4-state one next to Verilator's 2-state cycle model). Three images with gaps and
backpressure exercise everything that differs between images (TLAST per image, images back to back
in the pipeline, the II between images: it needs >= 2, the first one alone is the fill) at about
7 s of Icarus time per image; more images would repeat the same logic. `benchmarks/rtl.py` runs
200 images on Icarus and records the figures."""

import numpy as np
import pytest

from accel import golden
from accel.core import stream
from accel.core.modelfile import load_model
from accel.rtl.generate import write as generate
from accel.rtl.sim import simulate
from conftest import random_images
from test_rtl_network import check_mnist, mnist_x, qm, tiny_rtl  # noqa: F401 (fixtures)

ICARUS_IMAGES = 3


def test_tiny_mnist_bit_exact_on_mnist_icarus(qm, tiny_rtl, mnist_x):  # noqa: F811
    check_mnist(qm, tiny_rtl, mnist_x[:ICARUS_IMAGES], "icarus")


@pytest.mark.parametrize("wbits,abits,final_relu,fps", [(8, 8, False, 20000), (4, 4, True, 5000),
                                                         (6, 6, True, 50000)])
def test_small_nets_bit_exact_icarus(exported, tmp_path, wbits, abits, final_relu, fps):
    """Other bit widths, unsigned and signed classifier outputs, slow and fast folds."""
    _, path = exported(wbits=wbits, abits=abits, final_relu=final_relu)
    qm = load_model(path)
    m = generate(qm, tmp_path / "r", fold={"target_fps": fps})
    x = random_images(6, 15, seed=wbits)
    res = simulate(tmp_path / "r", x, "icarus", valid_gaps=0.2, backpressure=0.4, seed=wbits)
    got = stream.outputs_nchw(res["outputs"], m["io"]["output"])
    assert np.array_equal(got, golden.run(qm, x))


def test_waveform_on_request(exported, tmp_path):
    _, path = exported()
    generate(path, tmp_path / "r", fold={"target_fps": 50000})
    res = simulate(tmp_path / "r", random_images(1, 15), "icarus", waves=True)
    assert res["waves"] and (tmp_path / "r" / "accel_tb_dma.fst").stat().st_size > 1000
