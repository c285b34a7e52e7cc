"""The whole tiny-mnist RTL on Icarus: MNIST test images with random valid gaps and READY
backpressure, 0 mismatches against the golden model (Verilator: 200 images in test_rtl_network.py).
Icarus runs this design at about 7 s per image, so the suite gives it 30 images;
`benchmarks/rtl.py` runs 200 on Icarus (and 500 on Verilator) and records the figures. A file of its
own so this long single-threaded run and the rest go to different pytest workers."""

from test_rtl_network import check_mnist, mnist_x, qm, tiny_rtl  # noqa: F401 (fixtures)

ICARUS_IMAGES = 30


def test_tiny_mnist_bit_exact_on_mnist_icarus(qm, tiny_rtl, mnist_x):  # noqa: F811
    check_mnist(qm, tiny_rtl, mnist_x[:ICARUS_IMAGES], "icarus")
