"""The whole tiny-mnist RTL on Icarus: 200 MNIST test images with random valid gaps and READY
backpressure, 0 mismatches against the golden model (Verilator: test_rtl_network.py). A file of
its own so this long single-threaded run and the rest go to different pytest workers."""

from test_rtl_network import check_mnist, mnist_x, qm, tiny_rtl  # noqa: F401 (fixtures)


def test_tiny_mnist_bit_exact_on_mnist_icarus(qm, tiny_rtl, mnist_x):  # noqa: F811
    check_mnist(qm, tiny_rtl, mnist_x, "icarus")
