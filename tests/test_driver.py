"""The PYNQ driver (accel/python/driver.py) and the stream contract it shares with the HLS and
RTL tops (accel/core/stream.py): packing, errors before any transfer, deadline-polled DMA waits
(no hang), and end to end against the simulated device (accel/rtl/simdevice.py: the RTL
simulation behind the PYNQ interface) on real MNIST test images, bit-exact with the golden model;
`accel run`."""

import asyncio
import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from accel import golden
from accel.cli import DEFAULT_MODEL, main
from accel.core import stream
from accel.core.modelfile import load_model
from accel.python import driver
from accel.python.driver import DeviceTimeout, DriverError
from accel.rtl import project_for, simdevice

IN_WORDS, OUT_WORDS = 196, 10


def meta_for(control="none", out_words=OUT_WORDS, signed=True, bits=8):
    """accel_overlay.json as the build's overlay stage writes it (tiny-mnist shapes)."""
    return {
        "format": "accel-overlay-1", "board": "zybo", "clock_mhz": 100,
        "model": {"input_shape": [1, 28, 28], "class_names": [str(i) for i in range(10)]},
        "io": {"input": {"tdata_bits": 32, "layout": "NHWC", "dtype": "uint8", "values": 784,
                         "values_per_word": 4, "words": IN_WORDS},
               "output": {"tdata_bits": 32, "values_per_word": 1, "words": out_words,
                          "shape_nhwc": [1, 1, 1, out_words], "signed": signed,
                          "code_bits": bits, "frac": 2}},
        "dma": {"cell": "dma"},
        "accel": {"cell": "accel", "control": "ap_ctrl (AXI4-Lite)" if control == "axilite"
                  else "none (free running)", "base": 0x43C00000 if control == "axilite" else None},
    }


class FakeChannel:
    """A DMA channel that accepts transfers and never completes (the accelerator is silent)."""

    def __init__(self, error=False):
        self.calls, self.fail, self.error, self.idle = [], error, False, False

    def transfer(self, array, start=0, nbytes=0):
        self.calls.append((start, nbytes))
        self.error = self.fail  # an error status after the transfer started (DMAIntErr)

    def wait(self):
        if self.error:
            raise RuntimeError("DMA Internal Error (transfer length 0?)")
        raise AssertionError("the driver must not call wait() before the channel is idle")


class FakeIP:
    def __init__(self):
        self.regs = {0: 0x04}

    def read(self, off):
        return self.regs.get(off, 0)

    def write(self, off, value):
        self.regs[off] = value


class FakeOverlay:
    def __init__(self, error=False, axilite=False):
        self.dma = type("DMA", (), {})()
        self.dma.sendchannel, self.dma.recvchannel = FakeChannel(), FakeChannel(error)
        self.ip_dict = {"dma": {}}
        if axilite:
            self.accel = FakeIP()
            self.ip_dict["accel"] = {}


def fake_accel(timeout_s=0.2, **kw):
    ov = FakeOverlay(error=kw.pop("error", False), axilite=kw.get("control") == "axilite")
    acc = driver.Accelerator(ov, meta_for(**kw), allocate=simdevice.allocate, timeout_s=timeout_s)
    return acc, ov


def images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# packing

def test_pack_round_trip_and_layout():
    x = images(5)
    words = stream.pack_images(x, IN_WORDS)
    assert words.shape == (5, IN_WORDS) and words.dtype == np.uint32
    np.testing.assert_array_equal(stream.unpack_images(words, (1, 28, 28)), x)
    nhwc = x.transpose(0, 2, 3, 1).reshape(5, -1).astype(np.uint32)
    assert words[2, 3] == nhwc[2, 12] | nhwc[2, 13] << 8 | nhwc[2, 14] << 16 | nhwc[2, 15] << 24
    # 3 channels, 5x5: 75 bytes -> 19 words, the last zero-padded; in place into a DMA buffer
    y = images(2, 1)[:, :, :5, :5].repeat(3, axis=1)
    buf = simdevice.allocate((2 * 19,), np.uint32)
    stream.pack_images(y, 19, out=buf)
    assert buf.reshape(2, 19)[:, -1].tolist() == [int(v) for v in
                                                  y.transpose(0, 2, 3, 1).reshape(2, -1)[:, 72:75]
                                                  .astype(np.uint32) @ np.array([1, 256, 65536])]
    np.testing.assert_array_equal(stream.unpack_images(buf.reshape(2, 19), (3, 5, 5)), y)
    with pytest.raises(stream.StreamError, match="do not fit 18 words"):
        stream.pack_images(y, 18)


def test_decode_codes_and_scores():
    acc, _ = fake_accel()
    w = np.array([[-6, -7, -9, -1, 2, -5, -1, 56, -8, -6]], np.int64).astype(np.uint32)
    codes = stream.decode_outputs(w, acc.io_out)
    assert codes.tolist() == [[-6, -7, -9, -1, 2, -5, -1, 56, -8, -6]]
    r = acc.result(codes)
    assert r.labels.tolist() == [7] and r.names == ["7"] and r.scores[0, 7] == 14.0
    with pytest.raises(stream.StreamError, match="does not match"):  # 300 is not an 8-bit code
        stream.decode_outputs(np.full((1, 10), 300, np.uint32), acc.io_out)
    unsigned = dict(acc.io_out, signed=False)
    assert stream.decode_outputs(np.full((1, 10), 255, np.uint32), unsigned).max() == 255
    # a 2x2x3 output streams channels-last; decoded codes are in the model's NCHW order
    io2 = dict(acc.io_out, words=12, shape_nhwc=[1, 2, 2, 3])
    nchw = np.arange(12).reshape(1, 3, 2, 2)
    streamed = nchw.transpose(0, 2, 3, 1).reshape(1, -1)
    assert stream.decode_outputs(streamed.astype(np.uint32), io2).tolist() == \
        [nchw.reshape(-1).tolist()]
    np.testing.assert_array_equal(stream.outputs_nhwc(nchw.reshape(1, -1), io2), streamed)


# ---------------------------------------------------------------------------------------------
# errors before any transfer

@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 1, 28, 27), np.uint8), r"\(N, 1, 28, 28\)"),
    (np.zeros((2, 28, 28, 1), np.uint8), r"\(N, 1, 28, 28\)"),
    (np.zeros((2, 1, 28, 28), np.float32), "not floats"),
    (np.full((1, 1, 28, 28), 256, np.int32), "0..255"),
])
def test_bad_images_fail_before_any_transfer(bad, match):
    acc, ov = fake_accel()
    with pytest.raises(DriverError, match=match):
        acc.run(bad)
    assert ov.dma.sendchannel.calls == [] and ov.dma.recvchannel.calls == []


def test_wrong_buffer_sizes_fail_before_any_transfer():
    acc, ov = fake_accel()
    alloc = simdevice.allocate
    cases = [((alloc((IN_WORDS + 1,)), alloc((OUT_WORDS,))), "not whole images"),
             ((alloc((2 * IN_WORDS,)), alloc((OUT_WORDS,))), "exactly 2 x 40 bytes"),
             ((alloc((IN_WORDS,)), alloc((OUT_WORDS + 3,))), "exactly 1 x 40 bytes"),
             ((alloc((IN_WORDS,), np.int32), alloc((OUT_WORDS,))), "uint32"),
             ((alloc((0,)), alloc((0,))), "not whole images")]
    for (inb, outb), match in cases:
        with pytest.raises(DriverError, match=match):
            acc.run_buffers(inb, outb)
    acc.max_transfer = 3 * 4 * IN_WORDS
    with pytest.raises(DriverError, match="batches of at most 3"):
        acc.run_buffers(alloc((4 * IN_WORDS,)), alloc((4 * OUT_WORDS,)))
    assert ov.dma.sendchannel.calls == [] and ov.dma.recvchannel.calls == []


def test_metadata_errors(tmp_path):
    with pytest.raises(DriverError, match="accel_overlay.json not found"):
        driver.load_metadata(tmp_path)
    (tmp_path / "accel_overlay.json").write_text(json.dumps(dict(meta_for(), format="other")))
    with pytest.raises(DriverError, match="accel-overlay-1"):
        driver.load_metadata(tmp_path)
    m = meta_for()
    m["io"]["input"]["words"] = 100
    with pytest.raises(DriverError, match="does not match the model's input shape"):
        driver.check_metadata(m)
    m = meta_for()
    m["io"]["output"]["words"] = 9
    with pytest.raises(DriverError, match=r"for shape \[1, 1, 1, 10\] is not supported"):
        driver.check_metadata(m)
    ov = FakeOverlay()
    del ov.dma
    with pytest.raises(DriverError, match="no AXI DMA named 'dma'"):
        driver.Accelerator(ov, meta_for())
    with pytest.raises(DriverError, match="no accelerator named 'accel'"):
        driver.Accelerator(FakeOverlay(), meta_for(control="axilite"))


# ---------------------------------------------------------------------------------------------
# timeouts and DMA errors: clear errors within the deadline, no hang

def test_silent_accelerator_times_out_within_the_deadline():
    acc, ov = fake_accel(timeout_s=0.3)
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeout, match=r"S2MM \(receive\) of image 1 of 2 did not complete "
                                            r"within 0.3 s.*bitstream loaded"):
        acc.run(images(2))
    assert 0.3 <= time.monotonic() - t0 < 3
    assert isinstance(DeviceTimeout("x"), TimeoutError)
    assert ov.dma.recvchannel.calls == [(0, 40)] and ov.dma.sendchannel.calls == [(0, 2 * 784)]


def test_hls_control_is_started_and_named_in_the_timeout():
    acc, ov = fake_accel(timeout_s=0.1, control="axilite")
    with pytest.raises(DeviceTimeout, match=r"AP_CTRL=0x81.*accelerator started"):
        acc.run(images(1))
    assert ov.accel.regs[0] == 0x81  # ap_start + auto_restart


def test_dma_error_is_reported():
    acc, _ = fake_accel(error=True)
    with pytest.raises(DriverError, match="DMA Internal Error.*receive buffer is smaller"):
        acc.run(images(1))


class InstantChannel:
    """Completes every transfer at once (the received words stay 0); records how it is waited on.
    fail_async: the transfer never completes and the DMA reports an error meanwhile (an error
    raises no interrupt)."""

    def __init__(self, fail_async=False):
        self.calls, self.idle, self.error, self.transferred = [], False, False, 0
        self.fail_async = fail_async

    def transfer(self, array, start=0, nbytes=0):
        self.idle, self.transferred = not self.fail_async, nbytes

    def wait(self):
        self.calls.append("wait")
        if self.error:
            raise RuntimeError("DMA Internal Error (transfer length 0?)")

    async def wait_async(self):
        self.calls.append("wait_async")
        if self.fail_async:
            self.error = True
            await asyncio.sleep(60)


def instant_accel(interrupts: bool, fail_async=False):
    ov = FakeOverlay()
    ov.dma.sendchannel, ov.dma.recvchannel = InstantChannel(), InstantChannel(fail_async)
    if interrupts:  # pynq's DMA driver: one Interrupt per pin, handed to its channels
        ov.dma.mm2s_introut = ov.dma.s2mm_introut = object()
    return driver.Accelerator(ov, meta_for(), allocate=simdevice.allocate, timeout_s=0.2), ov


def test_waits_by_interrupt_where_wired_else_polls():
    acc, ov = instant_accel(interrupts=True)
    assert acc.interrupts
    acc.run(images(2))
    assert ov.dma.recvchannel.calls == ["wait_async"] * 2
    assert ov.dma.sendchannel.calls == ["wait_async"]

    async def in_a_jupyter_kernel():  # a running event loop: a blocking wait cannot run it
        return acc.run(images(1))

    ov.dma.recvchannel.calls.clear()
    asyncio.run(in_a_jupyter_kernel())
    assert ov.dma.recvchannel.calls == ["wait"]
    acc, ov = instant_accel(interrupts=False)
    assert not acc.interrupts
    acc.run(images(1))
    assert ov.dma.recvchannel.calls == ["wait"] and ov.dma.sendchannel.calls == ["wait"]
    acc, ov = instant_accel(interrupts=True, fail_async=True)
    with pytest.raises(DriverError, match=r"DMA S2MM \(receive\) of image 1 of 1 failed: DMA "
                                          "Internal Error"):
        acc.run(images(1))


def test_nhwc_layout_and_a_hint_for_it():
    acc, _ = instant_accel(interrupts=False)
    x = images(2)
    nhwc = x.transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(driver.check_images(nhwc, (1, 28, 28), "NHWC"), x)
    np.testing.assert_array_equal(driver.check_images(nhwc[0], (1, 28, 28), "NHWC"), x[:1])
    assert acc.predict(nhwc, layout="NHWC").shape == (2,)
    with pytest.raises(DriverError, match=r"\(N, C, H, W\) = \(N, 1, 28, 28\).*layout='NHWC'"):
        acc.run(nhwc)
    with pytest.raises(DriverError, match=r"\(N, H, W, C\) = \(N, 28, 28, 1\).*layout='NCHW'"):
        acc.run(x, layout="NHWC")
    with pytest.raises(DriverError, match="choose NCHW or NHWC"):
        acc.run(x, layout="CHW")


def test_image_files_get_the_models_preprocessing(tmp_path):
    """Image files -> codes exactly as accel/data.py makes the datasets (grey or RGB, bilinear
    resize to the model's size), without importing accel.data on the board."""
    from PIL import Image

    from accel import data
    from accel.python import images as imagefiles

    rng = np.random.default_rng(0)
    rgb, grey = tmp_path / "a.png", tmp_path / "b.jpg"
    Image.fromarray(rng.integers(0, 256, (37, 45, 3), dtype=np.uint8)).save(rgb)
    Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(grey)
    for shape in ((1, 28, 28), (3, 16, 24)):
        want = np.stack([data._to_codes(data._open_image(p), shape[1:], shape[0])
                         for p in (rgb, grey)])
        np.testing.assert_array_equal(imagefiles.load([rgb, grey], shape), want)
    assert imagefiles.files(tmp_path) == [rgb, grey] and imagefiles.files(str(rgb)) == [rgb]
    acc, ov = instant_accel(interrupts=False)
    assert acc.predict(tmp_path).tolist() == [0, 0]  # a folder; the instant DMA returns 0 codes
    assert acc.predict([str(rgb)]).tolist() == [0]
    with pytest.raises(DriverError, match="image file .*c.png not found"):
        acc.predict([tmp_path / "c.png"])
    (tmp_path / "bad.png").write_text("not a png")
    with pytest.raises(DriverError, match="cannot read image .*bad.png"):
        acc.predict(tmp_path / "bad.png")


def test_off_board_without_pynq(tmp_path):
    pytest.importorskip("numpy")
    if _has_pynq():
        pytest.skip("pynq is installed")
    (tmp_path / "accel_overlay.json").write_text(json.dumps(dict(meta_for(), bitstream="a.bit",
                                                                 hwh="a.hwh")))
    (tmp_path / "a.bit").write_bytes(b"")
    (tmp_path / "a.hwh").write_text("")
    with pytest.raises(DriverError, match="pynq is not installed.*--board sim"):
        driver.AccelOverlay(tmp_path)


def test_installed_driver_imports_only_the_stream_contract():
    """Installed, the board-side runtime takes nothing of accel but accel.core.stream, and
    neither pynq nor Pillow until they are needed. (Without accel, as the overlay package:
    tests/test_overlay_package.py.)"""
    code = ("import sys; import accel.python.driver; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'accel'), "
            "'pynq' in sys.modules, 'PIL' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == str(["accel", "accel.core", "accel.core.stream", "accel.python",
                                      "accel.python.control", "accel.python.driver",
                                      "accel.python.errors", "accel.python.images",
                                      "accel.python.metadata"]) + " False False", out.stderr


def _has_pynq():
    try:
        import pynq  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# the simulated device: the RTL simulation behind the same interface (Verilator, cached build)

def _verilator():
    from accel.core.errors import AccelError
    from accel.rtl import sim

    try:
        sim.check_simulator("verilator")
    except AccelError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def mnist():
    from accel import data

    qm = load_model(DEFAULT_MODEL)
    test = data.load_dataset("mnist").test
    return qm, test.x[:12], test.y[:12]


def sim_accel(control="none", timeout_s=5.0, meta_edit=None, **kw):
    _verilator()
    ov, meta = simdevice.sim_overlay(load_model(DEFAULT_MODEL), simulator="verilator",
                                     control=control)
    if meta_edit:
        meta_edit(meta)
    return driver.Accelerator(ov, meta, allocate=ov.allocate, timeout_s=timeout_s, **kw), ov


def test_sim_device_end_to_end_bit_exact(mnist):
    qm, x, y = mnist
    acc, ov = sim_accel(batch=8)  # two batches: 8 + 4 images, buffers re-allocated
    res = acc.run(x)
    ref = golden.run(qm, x)
    assert (res.codes != ref).sum() == 0
    np.testing.assert_array_equal(res.labels, golden.predict(qm, x))
    assert res.names == [qm.class_names[i] for i in res.labels]
    assert (res.labels == y).mean() >= 0.9
    np.testing.assert_allclose(res.scores, ref * 2.0 ** -acc.io_out["frac"])
    st = ov.stats()
    assert st["images"] == 12 and st["runs"] == 2 and st["clock_mhz"] > 0
    assert 1000 < st["images_per_s"] < 1e6 and st["ii_cycles"] > 0
    assert ov.dma.recvchannel.transfers == 12 and ov.dma.sendchannel.transfers == 2
    np.testing.assert_array_equal(acc.predict(x[:3]), res.labels[:3])


def test_sim_device_partial_image_never_completes(mnist):
    """1.5 images on MM2S: the first image's output arrives (TLAST), the half image never
    produces TLAST: S2MM stays busy and the driver's deadline fires, no hang."""
    _, x, _ = mnist
    acc, ov = sim_accel(timeout_s=0.3)
    words = stream.pack_images(x[:2], IN_WORDS).reshape(-1)[:IN_WORDS + IN_WORDS // 2]
    inb, outb = ov.allocate(words.shape, np.uint32), ov.allocate((2 * OUT_WORDS,), np.uint32)
    inb[:] = words
    recv, send = ov.dma.recvchannel, ov.dma.sendchannel
    recv.transfer(outb, 0, 40)
    send.transfer(inb)
    acc._wait(recv, "S2MM (receive) of image 1", 40)
    assert recv.transferred == 40 and send.idle  # the half image was absorbed by the accelerator
    recv.transfer(outb, 40, 40)
    with pytest.raises(RuntimeError, match="spins forever"):  # the sim's bare wait() never hangs
        recv.wait()
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeout, match="whole images"):
        acc._wait(recv, "S2MM (receive) of image 2", 40)
    assert time.monotonic() - t0 < 3


def test_sim_device_receive_buffer_too_small_is_a_dma_error(mnist):
    _, x, _ = mnist
    acc, ov = sim_accel(meta_edit=lambda m: m["io"]["output"].update(words=9,
                                                                     shape_nhwc=[1, 1, 1, 9]))
    with pytest.raises(DriverError, match=r"DMA Internal Error.*io.output.words \(9\)"):
        acc.run(x[:1])
    assert ov.dma.recvchannel.error and not ov.dma.recvchannel.running
    with pytest.raises(DriverError, match="error state"):  # no second transfer on a halted DMA
        acc.run(x[:1])


def test_sim_device_receive_buffer_too_large_stops_at_tlast(mnist):
    _, x, _ = mnist
    acc, _ = sim_accel(meta_edit=lambda m: m["io"]["output"].update(words=11,
                                                                    shape_nhwc=[1, 1, 1, 11]))
    with pytest.raises(DriverError, match="sent 40 bytes.*says 44"):
        acc.run(x[:1])


def test_sim_device_hls_control(mnist):
    qm, x, _ = mnist
    acc, ov = sim_accel(control="axilite", timeout_s=0.3)
    started = acc.start
    acc.start = lambda: None  # a driver that forgets ap_start: nothing runs, the deadline fires
    with pytest.raises(DeviceTimeout, match="AP_CTRL=0x04"):
        acc.run(x[:2])
    acc, ov = sim_accel(control="axilite")
    res = acc.run(x[:2])
    assert ov.accel.read(0) == 0x81 and started is not None
    np.testing.assert_array_equal(res.codes, golden.run(qm, x[:2]))


# ---------------------------------------------------------------------------------------------
# accel run

def test_cli_run_sim(capsys):
    _verilator()
    assert main(["run", "--board", "sim", "--images", "8"]) == 0
    out = capsys.readouterr().out
    assert "simulated device (verilator RTL simulation" in out
    assert "predicted: 7 2 1 0 4 1 4 9" in out and "label:     7 2 1 0 4 1 4 9" in out
    assert "accuracy: 100.00 % (8/8); golden model: 0 mismatching images" in out
    assert "images/s at 100 MHz" in out and "host wall time:" in out
    assert main(["run", "--board", "sim", "--images", "3", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["golden_mismatches"] == 0 and rep["simulated"]["images_per_s"] > 0
    assert rep["predictions"] == rep["labels"][:3] == [7, 2, 1]


def test_cli_run_board_off_board():
    if _has_pynq():
        pytest.skip("pynq is installed")
    out = subprocess.run([sys.executable, "-m", "accel.cli", "run", "--board", "zybo"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "pynq is not installed" in lines[0] and "--board sim" in lines[0]
    out = subprocess.run([sys.executable, "-m", "accel.cli", "run", "--board", "nosuch"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "unknown board" in out.stderr


def test_cli_run_sim_from_an_rtl_folder(tmp_path, capsys):
    """--overlay: an RTL folder (or `accel build --backend rtl` folder) instead of the cache."""
    _verilator()
    rtl = project_for(load_model(DEFAULT_MODEL))
    assert project_for(load_model(DEFAULT_MODEL)) == rtl  # content-addressed: stable folder
    assert main(["run", "--board", "sim", "--images", "2", "--overlay", str(rtl)]) == 0
    assert "golden model: 0 mismatching images" in capsys.readouterr().out
    build = tmp_path / "build"  # the build layout: <build>/rtl/accel/accel_rtl.json
    (build / "rtl" / "accel").mkdir(parents=True)
    shutil.copy(rtl / "accel_rtl.json", build / "rtl" / "accel")
    assert simdevice.find_rtl(build) == build / "rtl" / "accel"
    assert simdevice.model_path(build) == simdevice.model_path(rtl)
    (tmp_path / "hls").mkdir()
    assert main(["run", "--board", "sim", "--overlay", str(tmp_path)]) == 2
    assert "HLS build" in capsys.readouterr().err


def test_busy_channel_after_a_timeout_is_a_clear_error(mnist):
    """After a timeout the S2MM channel is still busy: PYNQ refuses the next transfer; the driver
    says to reload the overlay instead of passing on a bare RuntimeError."""
    _, x, _ = mnist
    acc, ov = sim_accel(control="axilite", timeout_s=0.2)
    acc.start = lambda: None  # never started: S2MM stays busy
    with pytest.raises(DeviceTimeout):
        acc.run(x[:1])
    with pytest.raises(DriverError, match="refused a transfer.*reload the overlay"):
        acc.run(x[:1])
