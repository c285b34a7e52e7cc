"""The core: what every stage shares, importing only numpy, onnx, qonnx, yaml and pydantic (never
torch).

    errors      AccelError: bad input the user can fix (one line, exit 2)
    arith       the arithmetic contract (rounding, saturation, accumulator width, alignment)
    ir          the integer IR (QType, Layer, QuantModel): every derived fact of a layer, once
    kinds       per layer kind: shape rule, golden function, which backends support it and why not
    fileformat  the model file's format tag and metadata
    modelfile   the reader: QONNX model file -> the integer IR
    migrate     the graph pass that lets qonnx, FINN and hls4ml read a model file (values untouched)
    config      the schema layer: fold.yaml, hls.yaml, board YAML and CLI numbers (pydantic, strict)
    stream      the DMA stream contract: io packing, image packing, output decoding, the DMA
                transfer limit, the overlay metadata (numpy only; copied beside the board driver)
    boards      the boards (capacities, parts, PS7 presets)
    cache       content keys and the cache root
    atomic      output directories written whole or not at all
"""
