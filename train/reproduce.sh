#!/usr/bin/env bash
# Reproduces the committed models (embedded default + benchmark models) from scratch on a CPU.
# About 20 minutes per model on 2 cores. Run from the repository root after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate

# tiny-mnist int8 on MNIST: float pre-training, then quantization-aware training (the default model)
accel train --model tiny-mnist --dataset mnist --wbits 8 --abits 8 \
    --float-epochs 24 --epochs 6 --lr 0.01 --no-augment --seed 0 --out runs/tiny-mnist-int8 --resume
accel export runs/tiny-mnist-int8 --out accel/default/tiny-mnist-int8.onnx

# tiny-mnist int4 weights and activations (input stays 8-bit pixels), from the same float weights
accel train --model tiny-mnist --dataset mnist --wbits 4 --abits 4 \
    --init runs/tiny-mnist-int8/float.pt --epochs 5 --lr 0.01 --no-augment --seed 0 --out runs/tiny-mnist-int4 --resume
accel export runs/tiny-mnist-int4 --out benchmarks/models/tiny-mnist-int4.onnx

# tiny-mnist int8 on Fashion-MNIST: the same recipe as the default model
accel train --model tiny-mnist --dataset fashion-mnist --wbits 8 --abits 8 \
    --float-epochs 24 --epochs 6 --lr 0.01 --no-augment --seed 0 --out runs/tiny-fmnist-int8 --resume
accel export runs/tiny-fmnist-int8 --out benchmarks/models/tiny-fmnist-int8.onnx
