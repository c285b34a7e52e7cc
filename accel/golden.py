"""The golden model: the integer IR of the model file run through each kind's golden function
(accel.core.kinds: numpy int64, the spec), or its fast twin where that is provably the same
(exact floats between layers, planes.step). `run` returns every layer's output so verifiers can
compare layer by layer.
"""

import numpy as np

from accel.core import planes
from accel.core.ir import QuantModel


def run(model: QuantModel, x, trace: bool = False):
    """Run the golden model on integer images (N, C, H, W). Returns the output codes (N, classes),
    and with trace=True also {layer name: codes} for every layer (int64)."""
    x = model.check_input(x)
    values = {model.input_name: x}
    last = _last_uses(model)
    outputs = {}
    for i, layer in enumerate(model.layers):
        y = planes.step(layer, [values[t] for t in layer.inputs])
        for t in layer.inputs:
            if last[t] == i:  # free it: the next layers reuse its memory
                values.pop(t, None)
        values[layer.output] = y
        if trace:
            outputs[layer.name] = planes.codes(y)
    y = planes.codes(values[model.output]).reshape(len(x), -1)
    return (y, outputs) if trace else y


def _last_uses(model: QuantModel) -> dict:
    """{tensor: index of the last layer reading it}; the model output is never freed."""
    last = {t: i for i, layer in enumerate(model.layers) for t in layer.inputs}
    last.pop(model.output, None)
    return last


def predict(model: QuantModel, x, batch: int = 500) -> np.ndarray:
    """Class indices (argmax, lowest index on ties) for images (N, C, H, W), in batches."""
    x = np.asarray(x)
    return np.concatenate([run(model, x[i:i + batch]).argmax(axis=1)
                           for i in range(0, len(x), batch)]) if len(x) else np.zeros(0, int)
