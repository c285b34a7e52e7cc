"""Tests for accel.training.zoo: sizes from the SqueezeNet paper / official release, shapes, bypasses, registry,
metaparameters and the per-layer description. All float models, batch <= 2, no training."""

import re

import pytest
import torch
from torch import nn

from accel.core.errors import AccelError
from accel.training.layers import FloatOps
from accel.training.zoo import (MODELS, Fire, SqueezeNet, build_model, count_params, describe, meta_fires,
                       squeezenet1_0, squeezenet1_1, squeezenet_meta, tiny_mnist)

# Written out here rather than imported, so a wrong constant in the zoo can't pass its own test.
V1_FIRES = [(16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
            (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]


def run(model, n, c, h, w):
    model.eval()
    with torch.no_grad():
        return model(torch.randn(n, c, h, w))


# --- parameter counts ------------------------------------------------------------------------------

@pytest.mark.parametrize("factory, expected", [
    (squeezenet1_0, 1_248_424),   # torchvision / Caffe v1.0
    (squeezenet1_1, 1_235_496),   # torchvision / Caffe v1.1
    (tiny_mnist, 12_978),         # not the course deck's 9,472: see tiny_mnist's docstring
    (squeezenet_meta, 1_248_424),
])
def test_param_counts(factory, expected):
    model = factory()
    assert count_params(model) == expected
    # For a float model the weights+biases count is every parameter.
    assert sum(p.numel() for p in model.parameters()) == expected


def test_tiny_mnist_alternative_readings_do_not_give_9472():
    # The docstring's claims: splitting expands gives 6,898, dropping biases gives 12,544.
    split = SqueezeNet(None, 1, 10, conv1=(64, 3, 1, 0),
                       fires=[(s, e // 2, e // 2) for s, e in zip([2, 2, 4, 4, 6, 6, 8, 8],
                                                                   [8, 8, 16, 16, 24, 24, 32, 32])],
                       pools_after=["conv1", "fire3", "fire5"])
    assert count_params(split) == 6_898
    no_bias = sum(m.weight.numel() for m in tiny_mnist().modules() if isinstance(m, nn.Conv2d))
    assert no_bias == 12_544


def test_meta_defaults_reproduce_v1_0():
    assert meta_fires() == V1_FIRES
    meta, v10 = squeezenet_meta(), squeezenet1_0()
    assert {k: v.shape for k, v in meta.state_dict().items()} == \
        {k: v.shape for k, v in v10.state_dict().items()}


def test_meta_other_values():
    # e_i = 64 + 32 * i (freq=1); e3 = int(e * 0.25); s = int(0.25 * e).
    fires = meta_fires(base_e=64, incr_e=32, pct_3x3=0.25, freq=1, sr=0.25, num_fires=3)
    assert fires == [(16, 48, 16), (24, 72, 24), (32, 96, 32)]
    model = squeezenet_meta(num_classes=5, base_e=64, incr_e=32, pct_3x3=0.25, freq=1, sr=0.25,
                            num_fires=3, pools_after=["conv1"])
    assert run(model, 1, 3, 64, 64).shape == (1, 5)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"base_e": 0}, r"base_e .*>= 1.*0"),
    ({"incr_e": -1}, r"incr_e .*>= 0.*-1"),
    ({"freq": 0}, r"freq .*>= 1.*0"),
    ({"freq": 1.5}, r"freq .*integer.*1\.5"),
    ({"pct_3x3": 1.5}, r"pct_3x3 .*\[0, 1\].*1\.5"),
    ({"pct_3x3": -0.1}, r"pct_3x3 .*\[0, 1\].*-0\.1"),
    ({"sr": 0}, r"sr .*> 0.*0"),
    ({"pct_3x3": 0.0}, r"fire2 expand3x3 would have 0 filters.*pct_3x3=0\.0"),
    ({"pct_3x3": 1.0}, r"fire2 expand1x1 would have 0 filters.*pct_3x3=1\.0"),
    ({"sr": 0.001}, r"fire2 squeeze would have 0 filters.*sr=0\.001"),
])
def test_bad_metaparameters(kwargs, pattern):
    with pytest.raises(AccelError, match=pattern):
        squeezenet_meta(**kwargs)


# --- shapes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, in_ch, hw, classes", [
    ("squeezenet1_0", 3, 224, 1000),
    ("squeezenet1_1", 3, 224, 1000),
    ("squeezenet1_0", 3, 32, 10),      # CIFAR size: 13 -> 6 -> 3 -> 1
    ("squeezenet1_1", 3, 32, 100),
    ("tiny-mnist", 1, 28, 10),
    ("tiny-mnist", 3, 32, 10),
    ("squeezenet1_1-complex-bypass", 3, 64, 7),
])
def test_output_shapes(name, in_ch, hw, classes):
    model = build_model(name, classes, in_ch)
    out = run(model, 2, in_ch, hw, hw)
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()


def test_tiny_mnist_feature_maps():
    rows = {r.name: r for r in describe(tiny_mnist(), 28)}
    assert (rows["conv1"].out_h, rows["pool1"].out_h, rows["fire4.expand3x3"].out_h,
            rows["pool4"].out_h, rows["fire8.expand3x3"].out_h, rows["pool8"].out_h) == \
        (26, 13, 13, 6, 6, 3)
    assert rows["gap"].kernel == (3, 3) and (rows["gap"].out_h, rows["gap"].out_w) == (1, 1)


def test_pool_names_and_stage_order():
    v10, v11 = squeezenet1_0(), squeezenet1_1()
    assert [n for n in v10.stage_order if n.startswith("pool")] == ["pool1", "pool4", "pool8"]
    assert [n for n in v11.stage_order if n.startswith("pool")] == ["pool1", "pool3", "pool5"]
    assert v10.stage_order[:5] == ("input_quant", "conv1", "conv1_act", "pool1", "fire2")
    assert v10.stage_order[-4:] == ("dropout", "conv10", "conv10_act", "gap")
    # Registered (and therefore exported) order is the forward order.
    assert [n for n, _ in v10.named_children()] == list(v10.stage_order)


def test_fire_module_names_and_shared_expand_act():
    model = squeezenet1_0(bypass="complex")
    names = {n for n, _ in model.named_modules()}
    for expected in ["fire2.squeeze", "fire2.squeeze_act", "fire2.expand1x1", "fire2.expand3x3",
                     "fire2.expand_act", "fire2.bypass", "fire2.bypass_act", "fire2.add_act",
                     "fire3.add_act", "conv10", "conv10_act", "gap", "dropout"]:
        assert expected in names
    assert "fire3.bypass" not in names          # equal channels: identity bypass, no conv
    # One ReLU per fire for both expand branches (squeeze_act + expand_act).
    assert sum(isinstance(m, nn.ReLU) for m in model.fire2.modules()) == 2


def test_concat_order_is_expand1x1_first():
    fire = Fire(FloatOps(), 4, 2, 3, 5)
    with torch.no_grad():
        fire.expand1x1.weight.zero_(); fire.expand1x1.bias.fill_(1.0)
        fire.expand3x3.weight.zero_(); fire.expand3x3.bias.fill_(2.0)
        out = fire(torch.randn(1, 4, 5, 5))
    assert out.shape == (1, 8, 5, 5)
    assert torch.all(out[:, :3] == 1.0) and torch.all(out[:, 3:] == 2.0)


def test_dropout_is_passed_through():
    assert tiny_mnist().dropout.p == pytest.approx(0.1)
    assert squeezenet1_0().dropout.p == pytest.approx(0.5)
    assert build_model("squeezenet1_1", 10, 3, dropout=0.2).dropout.p == pytest.approx(0.2)


# --- bypass ----------------------------------------------------------------------------------------

def test_simple_bypass_adds_no_params_and_changes_output():
    plain, simple = squeezenet1_0(num_classes=10), squeezenet1_0(num_classes=10, bypass="simple")
    assert count_params(simple) == count_params(plain)
    bypassed = [n for n in simple.stage_order if n.startswith("fire")
                and getattr(simple, n).bypass_kind == "identity"]
    assert bypassed == ["fire3", "fire5", "fire7", "fire9"]
    # Same weights: the outputs differ only because the adds are really wired in.
    simple.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 64)
    plain.eval(), simple.eval()
    with torch.no_grad():
        assert not torch.allclose(plain(x), simple(x))


def test_complex_bypass_param_count():
    channels_in = [96] + [e1 + e3 for _, e1, e3 in V1_FIRES[:-1]]
    channels_out = [e1 + e3 for _, e1, e3 in V1_FIRES]
    # A 1x1 conv with bias wherever in != out: fire2 96->128, fire4 128->256, fire6 256->384,
    # fire8 384->512.
    extra = sum(ci * co + co for ci, co in zip(channels_in, channels_out) if ci != co)
    assert extra == (96 * 128 + 128) + (128 * 256 + 256) + (256 * 384 + 384) + (384 * 512 + 512)
    model = squeezenet1_0(bypass="complex")
    assert count_params(model) == 1_248_424 + extra
    kinds = {n: getattr(model, n).bypass_kind for n in model.stage_order if n.startswith("fire")}
    assert [n for n, k in kinds.items() if k == "conv"] == ["fire2", "fire4", "fire6", "fire8"]
    assert [n for n, k in kinds.items() if k == "identity"] == ["fire3", "fire5", "fire7", "fire9"]
    assert run(model, 1, 3, 96, 96).shape == (1, 1000)


def test_simple_bypass_on_mismatched_fire_is_an_error():
    with pytest.raises(AccelError, match=r"simple bypass .*96 in and 128 out"):
        Fire(FloatOps(), 96, 16, 64, 64, bypass="simple")
    with pytest.raises(AccelError, match=r"bypass must be one of none, simple, complex"):
        squeezenet1_1(bypass="residual")


# --- registry --------------------------------------------------------------------------------------

def test_registry_names():
    for name in ["squeezenet1_0", "squeezenet1_1", "squeezenet1_0-simple-bypass",
                 "squeezenet1_0-complex-bypass", "squeezenet1_1-simple-bypass",
                 "squeezenet1_1-complex-bypass", "squeezenet-meta", "tiny-mnist"]:
        assert name in MODELS
    assert build_model("squeezenet1_0-complex-bypass", 1000, 3).bypass_mode == "complex"


def test_unknown_model_name():
    expected = f"unknown model 'resnet50': choose one of {', '.join(sorted(MODELS))}"
    with pytest.raises(AccelError, match=re.escape(expected) + "$"):
        build_model("resnet50", 10, 3)


def test_build_model_options():
    model = build_model("tiny-mnist", 4, 2)
    assert (model.num_classes, model.in_channels) == (4, 2)
    assert model.conv1.in_channels == 2 and model.conv10.out_channels == 4
    meta = build_model("squeezenet-meta", 10, 3, sr=0.25)
    assert meta.fire2.squeeze.out_channels == 32
    with pytest.raises(AccelError, match=r"model 'tiny-mnist' has no option sr"):
        build_model("tiny-mnist", 10, 1, sr=0.5)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"num_classes": 0}, r"num_classes .*>= 1"),
    ({"in_channels": 2.0}, r"in_channels .*integer"),
    ({"dropout": 1.0}, r"dropout .*\[0, 1\)"),
])
def test_bad_model_arguments(kwargs, pattern):
    with pytest.raises(AccelError, match=pattern):
        tiny_mnist(**kwargs)


def test_unknown_pool_stage():
    with pytest.raises(AccelError, match=r"pools_after names unknown stage\(s\) fire12"):
        SqueezeNet(None, 3, 10, pools_after=["conv1", "fire12"])


# --- describe --------------------------------------------------------------------------------------

def test_describe_tiny_mnist_macs():
    model = tiny_mnist()
    model.train()
    rows = describe(model, 28)
    assert model.training                     # mode restored
    by_name = {r.name: r for r in rows}
    conv1 = by_name["conv1"]
    assert conv1.macs == 26 * 26 * 64 * 9
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel, conv1.stride) == (1, 64, (3, 3), (1, 1))
    assert by_name["fire2.expand3x3"].macs == 13 * 13 * 8 * 2 * 9
    assert by_name["fire9.squeeze"].macs == 3 * 3 * 8 * 64
    assert by_name["conv10"].macs == 3 * 3 * 10 * 64
    assert by_name["pool1"].macs == 0 and by_name["pool1"].params == 0
    # Rows cover every weight, in execution order.
    assert sum(r.params for r in rows) == count_params(model) == 12_978
    assert rows[0].name == "conv1" and rows[-1].name == "gap"


def test_describe_v1_1_is_cheaper_than_v1_0():
    # The v1.1 release: "2.4x less computation than SqueezeNet v1.0, without sacrificing accuracy".
    macs_10 = sum(r.macs for r in describe(squeezenet1_0(), 224))
    macs_11 = sum(r.macs for r in describe(squeezenet1_1(), 224))
    assert 2.3 < macs_10 / macs_11 < 2.5


def test_describe_non_square_input():
    rows = describe(tiny_mnist(), (28, 36))
    conv1 = next(r for r in rows if r.name == "conv1")
    assert (conv1.out_h, conv1.out_w) == (26, 34)
    assert conv1.macs == 26 * 34 * 64 * 9
