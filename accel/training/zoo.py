"""Model zoo: SqueezeNet variants (Iandola et al. 2016, "SqueezeNet: AlexNet-level accuracy with 50x
fewer parameters and <0.5MB model size") built through an `accel.training.layers` layer factory.

Every layer comes from `ops` (default `FloatOps()`), never from `nn.Conv2d` & co. directly, so the same
definition builds a float model or a Brevitas-quantized one (`accel.training.quantizers.QuantOps`). Module names are
stable (`conv1`, `fire2.squeeze`, `fire2.expand_act`, `conv10`, `gap`, ...) because they end up in the
exported model file, and the forward pass walks an explicit ordered list of stage names so the graph
order is deterministic.

Public API: `Fire`, `SqueezeNet`, the factories (`squeezenet1_0`, `squeezenet1_1`, `squeezenet_meta`,
`tiny_mnist`), `MODELS`, `build_model`, `count_params`, `describe`.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from accel.core.errors import AccelError
from accel.training.layers import FloatOps

BYPASS_MODES = ("none", "simple", "complex")

# Fire sizes (squeeze, expand1x1, expand3x3) shared by SqueezeNet v1.0 and v1.1 (paper Table 1).
V1_FIRES: Tuple[Tuple[int, int, int], ...] = (
    (16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
    (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256),
)
# conv1 as (filters, kernel, stride, padding) and the stages followed by a 3x3/2 max-pool.
V1_0_CONV1 = (96, 7, 2, 0)
V1_0_POOLS = ("conv1", "fire4", "fire8")
V1_1_CONV1 = (64, 3, 2, 0)
V1_1_POOLS = ("conv1", "fire3", "fire5")


def _check_int(name: str, value, lo: int = 1) -> None:
    # bool is an int subclass; True as a channel count is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise AccelError(f"{name} must be an integer >= {lo}, got {value!r}")


class Fire(nn.Module):
    """Fire module: 1x1 squeeze -> ReLU -> (1x1 expand | 3x3 expand) -> shared ReLU -> concat.

    bypass:
      'none'    plain fire module.
      'simple'  out = requant(add(fire(x), x)); needs cin == e1x1 + e3x3.
      'complex' like 'simple' when channels match (paper 5.5 only adds 1x1 convs where an identity
                bypass can't go); otherwise the bypass is a 1x1 conv (with bias) + signed requant.
    """

    def __init__(self, ops, cin: int, squeeze: int, e1x1: int, e3x3: int, bypass: str = "none"):
        super().__init__()
        for name, value in (("cin", cin), ("squeeze", squeeze), ("e1x1", e1x1), ("e3x3", e3x3)):
            _check_int(f"fire {name}", value)
        if bypass not in BYPASS_MODES:
            raise AccelError(f"bypass must be one of {', '.join(BYPASS_MODES)}, got {bypass!r}")
        cout = e1x1 + e3x3
        if bypass == "simple" and cin != cout:
            raise AccelError(
                f"simple bypass needs equal input and output channels, got {cin} in and {cout} out; "
                "use bypass='complex' for a 1x1 conv bypass")
        self.in_channels, self.out_channels = cin, cout
        # 'identity' | 'conv' | None: what actually carries the input to the add.
        self.bypass_kind = None if bypass == "none" else ("identity" if cin == cout else "conv")
        self._cat = ops.cat
        self._add = ops.add

        self.squeeze = ops.conv(cin, squeeze, 1)
        self.squeeze_act = ops.relu()
        self.expand1x1 = ops.conv(squeeze, e1x1, 1)
        self.expand3x3 = ops.conv(squeeze, e3x3, 3, padding=1)
        # One activation for both branches: the concatenated tensor must have a single scale.
        self.expand_act = ops.relu()
        if self.bypass_kind == "conv":
            self.bypass = ops.conv(cin, cout, 1)
            # No ReLU on the bypass (paper 5.5), but its output must still be quantized, and signed.
            self.bypass_act = ops.requant(signed=True)
        if self.bypass_kind is not None:
            # Sum of two non-negative-ish terms after ReLU/requant: requantized unsigned.
            self.add_act = ops.requant(signed=False)

    def forward(self, x):
        s = self.squeeze_act(self.squeeze(x))
        out = self._cat([self.expand_act(self.expand1x1(s)), self.expand_act(self.expand3x3(s))])
        if self.bypass_kind == "identity":
            out = self.add_act(self._add(out, x))
        elif self.bypass_kind == "conv":
            out = self.add_act(self._add(out, self.bypass_act(self.bypass(x))))
        return out


class SqueezeNet(nn.Module):
    """Generic SqueezeNet macro-architecture.

    input -> conv1 -> ReLU -> pool1 -> fire2..fire(N+1) (max-pool after each stage named in
    `pools_after`) -> dropout -> conv10 (1x1 to num_classes) -> ReLU -> global avg pool -> flatten.

    A pool after stage `conv1` is named `pool1`, after `fireK` it is `poolK` (the Caffe names).
    bypass='simple' puts identity bypasses around fires whose input and output channels match
    (fire3/5/7/9 in v1.0); 'complex' additionally puts 1x1-conv bypasses around the others.
    """

    def __init__(self, ops=None, in_channels: int = 3, num_classes: int = 1000,
                 conv1: Sequence[int] = V1_0_CONV1,
                 fires: Sequence[Sequence[int]] = V1_FIRES,
                 pools_after: Sequence[str] = V1_0_POOLS,
                 bypass: str = "none", dropout: float = 0.5, final_relu: bool = True):
        super().__init__()
        ops = FloatOps() if ops is None else ops
        _check_int("in_channels", in_channels)
        _check_int("num_classes", num_classes)
        if bypass not in BYPASS_MODES:
            raise AccelError(f"bypass must be one of {', '.join(BYPASS_MODES)}, got {bypass!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise AccelError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        if len(conv1) != 4:
            raise AccelError(f"conv1 must be (filters, kernel, stride, padding), got {tuple(conv1)!r}")
        c1_filters, c1_kernel, c1_stride, c1_padding = conv1
        for name, value, lo in (("filters", c1_filters, 1), ("kernel", c1_kernel, 1),
                                ("stride", c1_stride, 1), ("padding", c1_padding, 0)):
            _check_int(f"conv1 {name}", value, lo)
        if not fires:
            raise AccelError("a SqueezeNet needs at least one fire module")
        fire_names = [f"fire{i + 2}" for i in range(len(fires))]
        stage_names = ["conv1"] + fire_names
        unknown = [p for p in pools_after if p not in stage_names]
        if unknown:
            raise AccelError(f"pools_after names unknown stage(s) {', '.join(map(str, unknown))}: "
                             f"choose from {', '.join(stage_names)}")

        self.in_channels, self.num_classes, self.bypass_mode = in_channels, num_classes, bypass
        self._value = ops.value
        order: List[str] = []  # forward order; modules are also registered in this order

        def add(name: str, module: nn.Module) -> None:
            setattr(self, name, module)
            order.append(name)

        def pool_after(stage: str) -> None:
            if stage in pools_after:
                # Caffe naming: the pool after conv1 is pool1, after fire4 it is pool4.
                add("pool" + stage.removeprefix("conv").removeprefix("fire"), ops.maxpool())

        add("input_quant", ops.input())
        add("conv1", ops.conv(in_channels, c1_filters, c1_kernel, stride=c1_stride, padding=c1_padding))
        add("conv1_act", ops.relu())
        pool_after("conv1")
        cin = c1_filters
        for name, spec in zip(fire_names, fires):
            if len(spec) != 3:
                raise AccelError(f"{name} must be (squeeze, expand1x1, expand3x3), got {tuple(spec)!r}")
            s, e1, e3 = spec
            # 'simple' only goes where an identity fits; 'complex' lets Fire pick identity or 1x1 conv.
            fire_bypass = bypass
            if bypass == "simple" and cin != e1 + e3:
                fire_bypass = "none"
            add(name, Fire(ops, cin, s, e1, e3, bypass=fire_bypass))
            pool_after(name)
            cin = e1 + e3
        # Dropout is not a quantized layer: plain nn.Dropout in both float and quant builds.
        add("dropout", nn.Dropout(p=dropout))
        add("conv10", ops.conv(cin, num_classes, 1))
        # The paper's classifier is conv10 -> ReLU -> global average pool. final_relu=False keeps
        # the logits signed instead (see tiny_mnist for why).
        add("conv10_act", ops.relu() if final_relu else ops.requant(signed=True))
        add("gap", ops.global_avgpool(signed=not final_relu))
        self.stage_order: Tuple[str, ...] = tuple(order)
        self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's SqueezeNet init. PyTorch's default conv init (kaiming_uniform with a=sqrt(5))
        shrinks the signal at every layer: without BatchNorm a deep narrow net then starts with
        all-zero logits after the last ReLU and never learns (measured: loss stuck at ln 10)."""
        for name, module in self.named_modules():
            if isinstance(module, nn.Conv2d):  # QuantConv2d is a Conv2d too
                if name.removesuffix(".conv") == "conv10":
                    nn.init.normal_(module.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x):
        for name in self.stage_order:
            x = getattr(self, name)(x)
        # Flatten only at the very end; logits leave as a plain tensor.
        return torch.flatten(self._value(x), 1)


# ---------------------------------------------------------------------------------------------------
# Factories. All take num_classes, in_channels, ops, dropout (and bypass) as keywords.

def squeezenet1_0(num_classes: int = 1000, in_channels: int = 3, ops=None, dropout: float = 0.5,
                  bypass: str = "none") -> SqueezeNet:
    """SqueezeNet v1.0 (paper Table 1): conv1 96x7x7/2, pools after conv1, fire4, fire8."""
    return SqueezeNet(ops, in_channels, num_classes, conv1=V1_0_CONV1, fires=V1_FIRES,
                      pools_after=V1_0_POOLS, bypass=bypass, dropout=dropout)


def squeezenet1_1(num_classes: int = 1000, in_channels: int = 3, ops=None, dropout: float = 0.5,
                  bypass: str = "none") -> SqueezeNet:
    """SqueezeNet v1.1 (official release): conv1 64x3x3/2, pools moved earlier (after conv1, fire3,
    fire5), same fires: ~2.4x less computation than v1.0 at the same accuracy."""
    return SqueezeNet(ops, in_channels, num_classes, conv1=V1_1_CONV1, fires=V1_FIRES,
                      pools_after=V1_1_POOLS, bypass=bypass, dropout=dropout)


def meta_fires(base_e: int = 128, incr_e: int = 128, pct_3x3: float = 0.5, freq: int = 2,
               sr: float = 0.125, num_fires: int = 8) -> List[Tuple[int, int, int]]:
    """Fire sizes from the paper's metaparameters (section 5.2).

    For fire i = 0..num_fires-1: e_i = base_e + incr_e * floor(i / freq); e3 = int(e_i * pct_3x3);
    e1 = e_i - e3; s = int(sr * e_i). Raises AccelError for a bad metaparameter or any layer that
    would end up with fewer than one filter.
    """
    _check_int("base_e", base_e, 1)
    _check_int("incr_e", incr_e, 0)  # 0 is valid: every fire the same width
    _check_int("freq", freq, 1)
    _check_int("num_fires", num_fires, 1)
    if isinstance(pct_3x3, bool) or not isinstance(pct_3x3, (int, float)) or not 0 <= pct_3x3 <= 1:
        raise AccelError(f"pct_3x3 must be a fraction in [0, 1], got {pct_3x3!r}")
    if isinstance(sr, bool) or not isinstance(sr, (int, float)) or not sr > 0:
        raise AccelError(f"sr (squeeze ratio) must be > 0 (the paper uses 0.125..1.0), got {sr!r}")
    fires = []
    for i in range(num_fires):
        e = base_e + incr_e * (i // freq)
        e3 = int(e * pct_3x3)
        e1 = e - e3
        s = int(sr * e)
        for layer, n, knob in (("squeeze", s, f"sr={sr}"), ("expand1x1", e1, f"pct_3x3={pct_3x3}"),
                               ("expand3x3", e3, f"pct_3x3={pct_3x3}")):
            if n < 1:
                raise AccelError(
                    f"fire{i + 2} {layer} would have {n} filters (e_i={e}, {knob}); every layer needs "
                    "at least 1 filter: use sr >= 1/e_i and pct_3x3 strictly between 0 and 1 "
                    "with room for one filter in each expand branch")
        fires.append((s, e1, e3))
    return fires


def squeezenet_meta(num_classes: int = 1000, in_channels: int = 3, ops=None, dropout: float = 0.5,
                    bypass: str = "none", base_e: int = 128, incr_e: int = 128, pct_3x3: float = 0.5,
                    freq: int = 2, sr: float = 0.125, num_fires: int = 8,
                    conv1: Sequence[int] = V1_0_CONV1,
                    pools_after: Sequence[str] = V1_0_POOLS) -> SqueezeNet:
    """SqueezeNet from the paper's metaparameters (section 5.2); defaults reproduce v1.0 exactly."""
    fires = meta_fires(base_e, incr_e, pct_3x3, freq, sr, num_fires)
    return SqueezeNet(ops, in_channels, num_classes, conv1=conv1, fires=fires,
                      pools_after=pools_after, bypass=bypass, dropout=dropout)


TINY_MNIST_SQUEEZE = (2, 2, 4, 4, 6, 6, 8, 8)
TINY_MNIST_EXPAND = (8, 8, 16, 16, 24, 24, 32, 32)


def tiny_mnist(num_classes: int = 10, in_channels: int = 1, ops=None, dropout: float = 0.1,
               bypass: str = "none") -> SqueezeNet:
    """Small SqueezeNet for 28x28 MNIST-size images (small enough for the smallest Zynq boards).

    conv1 64x3x3/1 (no padding); fires with squeezes [2,2,4,4,6,6,8,8] and expand widths
    [8,8,16,16,24,24,32,32], each expand branch (1x1 and 3x3) having that many filters; pools after
    conv1, fire4, fire8 (v1.0 placement, the paper's "downsample late"). Feature maps for 28x28:
    26 -> pool 13 (fire2-4) -> pool 6 (fire5-8) -> pool 3 (fire9, conv10), so the global pool
    averages 3x3. Measured (float, 12 epochs, no augmentation): 98.31 % MNIST test with v1.0
    placement vs 97.93 % with v1.1's (pools after conv1, fire3, fire5).

    Parameter count: 12,978 with biases (10 classes, 1 input channel). A course deck reports 9,472 for
    "the same" network, but no reading of these lists reproduces 9,472: splitting each expand width
    between the branches (e1 = e3 = e/2) gives 6,898 and dropping the biases gives 12,544. We keep the
    literal reading (each branch has e filters), i.e. 12,978.

    Departure from the paper's classifier: no ReLU between conv10 and the global pool (signed
    logits). Measured on MNIST (float, 900 Adam steps, same seed): 66.3 % val with the ReLU, 94.7 %
    without: with only 10 ReLU'd class maps a class whose map is negative everywhere gets no gradient.
    """
    fires = [(s, e, e) for s, e in zip(TINY_MNIST_SQUEEZE, TINY_MNIST_EXPAND)]
    return SqueezeNet(ops, in_channels, num_classes, conv1=(64, 3, 1, 0), fires=fires, final_relu=False,
                      pools_after=V1_0_POOLS, bypass=bypass, dropout=dropout)


# ---------------------------------------------------------------------------------------------------
# Registry

MODELS: Dict[str, Callable[..., SqueezeNet]] = {
    "squeezenet1_0": squeezenet1_0,
    "squeezenet1_0-simple-bypass": functools.partial(squeezenet1_0, bypass="simple"),
    "squeezenet1_0-complex-bypass": functools.partial(squeezenet1_0, bypass="complex"),
    "squeezenet1_1": squeezenet1_1,
    "squeezenet1_1-simple-bypass": functools.partial(squeezenet1_1, bypass="simple"),
    "squeezenet1_1-complex-bypass": functools.partial(squeezenet1_1, bypass="complex"),
    "squeezenet-meta": squeezenet_meta,
    "tiny-mnist": tiny_mnist,
}


def build_model(name: str, num_classes: int, in_channels: int, ops=None, **kwargs) -> SqueezeNet:
    """Build a registered model by name; extra keywords go to its factory (e.g. dropout, sr)."""
    if name not in MODELS:
        raise AccelError(f"unknown model '{name}': choose one of {', '.join(sorted(MODELS))}")
    factory = MODELS[name]
    # Turn a misspelt option into a user-facing error instead of a TypeError from deep inside.
    params = inspect.signature(factory).parameters
    bad = [k for k in kwargs if k not in params]
    if bad:
        extra = sorted(set(params) - {"num_classes", "in_channels", "ops"})
        raise AccelError(f"model '{name}' has no option {', '.join(bad)}: its options are "
                         f"{', '.join(extra)}")
    return factory(num_classes=num_classes, in_channels=in_channels, ops=ops, **kwargs)


# ---------------------------------------------------------------------------------------------------
# Introspection for reports

def count_params(model: nn.Module) -> int:
    """Number of weights and biases of the model's layers.

    Counts only each module's own `weight` and `bias` so a Brevitas-quantized build reports the same
    number as the float one (its learned quantizer scales are also nn.Parameters, but they are not
    model weights). For a float model this equals sum(p.numel() for p in model.parameters()).
    """
    total = 0
    for module in model.modules():
        for attr in ("weight", "bias"):
            p = module._parameters.get(attr)
            if p is not None:
                total += p.numel()
    return total


@dataclass
class LayerRow:
    """One compute layer of `describe`: shapes are for a batch of one image."""
    name: str                 # module name, e.g. 'fire2.expand3x3'
    kind: str                 # 'conv' | 'maxpool' | 'gap'
    in_channels: int
    out_channels: int
    kernel: Tuple[int, int]   # (kh, kw); for 'gap' the whole input map
    stride: Tuple[int, int]
    out_h: int
    out_w: int
    params: int               # weights + biases
    macs: int                 # multiply-accumulates; 0 for pools (comparisons/adds, no multiplies
                              # by weights)


def _pair(v) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def describe(model: nn.Module, input_hw: Union[int, Tuple[int, int]],
             in_channels: Optional[int] = None) -> List[LayerRow]:
    """Per-layer rows (convs, max-pools, global pool) in execution order for one input image.

    Runs one forward pass on zeros with forward hooks, so shapes are what the model really computes
    (ceil-mode pools included). Activations, requantizers and dropout are left out: they keep shape,
    have no weights, and in hardware they are fused into the preceding layer. Meant for float models;
    the model's train/eval mode is restored afterwards.
    """
    h, w = _pair(input_hw)
    if in_channels is None:
        in_channels = getattr(model, "in_channels", None)
    if in_channels is None:
        raise AccelError("describe needs in_channels for a model without an in_channels attribute")
    rows: List[LayerRow] = []

    def hook(name: str, module: nn.Module, inputs, output) -> None:
        x = FloatOps.value(inputs[0])
        y = FloatOps.value(output)
        cin, (hin, win) = x.shape[1], x.shape[-2:]
        cout, hout, wout = y.shape[1], y.shape[-2], y.shape[-1]
        if isinstance(module, nn.Conv2d):
            kernel, stride = _pair(module.kernel_size), _pair(module.stride)
            params = module.weight.numel() + (module.bias.numel() if module.bias is not None else 0)
            macs = hout * wout * cout * (cin // module.groups) * kernel[0] * kernel[1]
            kind = "conv"
        elif isinstance(module, nn.MaxPool2d):
            kernel, stride, params, macs, kind = (_pair(module.kernel_size), _pair(module.stride),
                                                  0, 0, "maxpool")
        else:  # global average pool: one window covering the whole input map
            kernel, stride, params, macs, kind = (int(hin), int(win)), (1, 1), 0, 0, "gap"
        rows.append(LayerRow(name, kind, int(cin), int(cout), kernel, stride, int(hout), int(wout),
                             params, macs))

    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d)):
            handles.append(module.register_forward_hook(functools.partial(hook, name)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, in_channels, h, w))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return rows
