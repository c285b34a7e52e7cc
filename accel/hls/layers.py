"""accel's hls4ml extensions: two layers hls4ml 1.3 cannot produce bit-exactly, registered through
hls4ml's extension API (register_layer, backend templates and sources).

- AccelMaxPool2D: overlapping windows (SqueezeNet's 3x3 stride 2), ceil mode, padding. hls4ml's
  io_stream pooling2d_cl asserts pool size == stride and no padding.
- AccelGlobalAvgPool2D: the contract's exact mean round_half_even(sum * 2^shift / N) for any area N
  (accel.core.arith.avg_requantize). hls4ml's io_stream global average divides in ap_fixed, which
  truncates the quotient before the output cast rounds it (two roundings, not half-even of the
  exact mean).

The C++ is templates/nnet_accel.h, copied into the project's nnet_utils/.
"""

from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"
BACKENDS = ("Vitis", "Vivado")
_registered = False

_maxpool_config = """struct config{index} : nnet::accel_maxpool_config {{
    static const int in_height = {in_height};
    static const int in_width = {in_width};
    static const int n_chan = {n_chan};
    static const int out_height = {out_height};
    static const int out_width = {out_width};
    static const int pool_height = {pool_height};
    static const int pool_width = {pool_width};
    static const int stride_height = {stride_height};
    static const int stride_width = {stride_width};
    static const int pad_top = {pad_top};
    static const int pad_left = {pad_left};
    static const int rows_in_flight = {rows_in_flight};
    static const int cols_in_flight = {cols_in_flight};
    static const int primary_rows = {primary_rows};
    static const int primary_cols = {primary_cols};
}};\n"""

_gap_config = """struct config{index} : nnet::accel_gap_config {{
    static const int in_height = {in_height};
    static const int in_width = {in_width};
    static const int n_chan = {n_chan};
    static const int in_bits = {in_bits};
    static const int out_bits = {out_bits};
    static const int num_shift = {num_shift};
    static const long long den = {den}LL;
    static const long long out_min = {out_min}LL;
    static const long long out_max = {out_max}LL;
    typedef {in_code_t} in_code_t;
    typedef ap_int<{sum_bits}> sum_t;
    typedef ap_int<{num_bits}> num_t;
}};\n"""

_call = "nnet::{function}<{input_t}, {output_t}, {config}>({input}, {output});"


def register() -> None:
    """Register the layers, their templates and nnet_accel.h with hls4ml (once per process)."""
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.layers import Layer, register_layer
    from hls4ml.model.attributes import Attribute

    ints = lambda *names: [Attribute(n) for n in names]  # noqa: E731

    class AccelMaxPool2D(Layer):
        _expected_attributes = ints("in_height", "in_width", "n_chan", "out_height", "out_width",
                                    "pool_height", "pool_width", "stride_height", "stride_width",
                                    "pad_top", "pad_left", "rows_in_flight", "cols_in_flight",
                                    "primary_rows", "primary_cols")

        def initialize(self):
            self.add_output_variable([self.attributes["out_height"], self.attributes["out_width"],
                                      self.attributes["n_chan"]])

    class AccelGlobalAvgPool2D(Layer):
        _expected_attributes = ints("in_height", "in_width", "n_chan", "in_bits", "out_bits",
                                    "num_shift", "den", "out_min", "out_max", "sum_bits", "num_bits")

        def initialize(self):
            self.add_output_variable([1, 1, self.attributes["n_chan"]])

    class MaxPoolConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(AccelMaxPool2D)

        def format(self, node):
            return _maxpool_config.format(**self._default_config_params(node))

    class GapConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(AccelGlobalAvgPool2D)

        def format(self, node):
            params = self._default_config_params(node)
            return _gap_config.format(**params)

    class MaxPoolCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(AccelMaxPool2D, include_header=["nnet_utils/nnet_accel.h"])

        def format(self, node):
            return _call.format(function="accel_maxpool2d_cl", **self._default_function_params(node))

    class GapCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(AccelGlobalAvgPool2D, include_header=["nnet_utils/nnet_accel.h"])

        def format(self, node):
            return _call.format(function="accel_global_avgpool2d_cl",
                                **self._default_function_params(node))

    register_layer("AccelMaxPool2D", AccelMaxPool2D)
    register_layer("AccelGlobalAvgPool2D", AccelGlobalAvgPool2D)
    for name in BACKENDS:
        backend = hls4ml.backends.get_backend(name)
        for template in (MaxPoolConfig, GapConfig, MaxPoolCall, GapCall):
            backend.register_template(template)
        backend.register_source(TEMPLATES / "nnet_accel.h")
    _registered = True
