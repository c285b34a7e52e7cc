"""Deep Compression (Han et al. 2016) in the integer code domain: prune, share, Huffman-code.

    prune.py      magnitude masks, global or per-layer targets, gradual schedule
    share.py      k-means codebook of integer codes per layer, centroid fine-tuning
    tune.py       the short retraining loops (Brevitas model, activation scales frozen)
    huffman.py    canonical length-limited Huffman coding, bit writer/reader
    codec.py      the compressed container (sparse relative indices, codebooks, biases): encode/decode
    report.py     sizes per layer and stage, accuracy, plot
    structural.py SqueezeNet v1.0/v1.1 sizes at the paper's settings from the structure alone
    pipeline.py   `accel compress`: all of it, into an output directory written atomically

The result is an ordinary model file (+ .pt checkpoint): pruned weights are code 0 and shared weights
are integer codes at the layer's power-of-two scale, so every backend reads it unchanged.

Only pipeline, prune, share and tune import torch; the codec and Huffman coder are numpy-only, so
this package imports nothing by itself.
"""
