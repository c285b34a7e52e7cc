"""The golden model: the integer IR of the model file run through each kind's golden function
(accel.core.kinds, numpy int64, no floats). It is the spec. `run` returns every layer's output so
verifiers can compare layer by layer.
"""

import numpy as np

from accel.core.ir import QuantModel
from accel.core.kinds import KINDS


def run(model: QuantModel, x, trace: bool = False):
    """Run the golden model on integer images (N, C, H, W). Returns the output codes (N, classes),
    and with trace=True also {layer name: codes} for every layer."""
    values = {model.input_name: model.check_input(x)}
    outputs = {}
    for layer in model.layers:
        y = KINDS[layer.kind].golden(layer, [values[i] for i in layer.inputs])
        values[layer.output] = y
        if trace:
            outputs[layer.name] = y
    y = values[model.output].reshape(len(values[model.input_name]), -1)
    return (y, outputs) if trace else y


def predict(model: QuantModel, x, batch: int = 500) -> np.ndarray:
    """Class indices (argmax, lowest index on ties) for images (N, C, H, W), in batches."""
    x = np.asarray(x)
    return np.concatenate([run(model, x[i:i + batch]).argmax(axis=1)
                           for i in range(0, len(x), batch)]) if len(x) else np.zeros(0, int)
