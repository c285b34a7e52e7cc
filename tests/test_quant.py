"""The Brevitas quantizers: power-of-two scales, the requested bit widths, exact input codes."""

import math

import pytest
import torch

from accel.training import zoo
from accel.core.errors import AccelError
from accel.training.quantizers import SUPPORTED_BITS, QuantOps, QuantSpec


@pytest.mark.parametrize("bits", [1, 9, 16, 0])
def test_unsupported_bits_refused(bits):
    with pytest.raises(AccelError, match=f"--wbits {bits}"):
        QuantSpec(wbits=bits).check()
    with pytest.raises(AccelError, match=f"--abits {bits}"):
        QuantSpec(abits=bits).check()


def test_supported_bits_cover_8_6_4():
    assert {8, 6, 4} <= set(SUPPORTED_BITS)


def test_input_quantizer_is_exact_on_pixel_codes():
    q = QuantOps(QuantSpec()).input()
    codes = torch.arange(256).float().reshape(1, 1, 16, 16)
    out = q(codes / 256)
    assert float(out.scale) == 2.0 ** -8
    assert torch.equal(out.int().long(), codes.long())


@pytest.mark.parametrize("wbits, abits", [(8, 8), (6, 6), (4, 4), (8, 4)])
def test_scales_are_powers_of_two_and_codes_in_range(wbits, abits):
    torch.manual_seed(0)
    model = zoo.build_model("tiny-mnist", 10, 1, ops=QuantOps(QuantSpec(wbits, abits)))
    model.train()
    with torch.no_grad():
        for _ in range(35):
            model(torch.randint(0, 256, (8, 1, 28, 28)).float() / 256)
    model.eval()
    seen = 0
    for name, module in model.named_modules():
        if hasattr(module, "quant_weight"):
            qw = module.quant_weight()
            assert math.frexp(float(qw.scale))[0] == 0.5, name
            assert int(qw.bit_width) == wbits
            assert qw.int().abs().max() <= 2 ** (wbits - 1) - 1  # narrow range
            seen += 1
    assert seen == 26  # conv1 + 8 fires x 3 + conv10
    outs = []
    model.conv1_act.register_forward_hook(lambda m, i, o: outs.append(o))
    with torch.no_grad():
        model(torch.randint(0, 256, (4, 1, 28, 28)).float() / 256)
    assert math.frexp(float(outs[0].scale))[0] == 0.5
    assert int(outs[0].bit_width) == abits and outs[0].int().max() <= 2 ** abits - 1
