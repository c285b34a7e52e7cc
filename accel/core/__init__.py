"""The core: what every stage shares, importing only numpy, onnx, qonnx and yaml (never torch).

    errors      AccelError: bad input the user can fix (one line, exit 2)
    arith       the arithmetic contract (rounding, saturation, accumulator width, alignment)
    fileformat  the model file's format tag and metadata
    modelfile   the reader: QONNX model file -> integer layers (QuantModel)
    boards      the boards (capacities, parts, PS7 presets)
    cache       content keys and the cache root
    atomic      output directories written whole or not at all
"""
