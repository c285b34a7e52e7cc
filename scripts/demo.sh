#!/usr/bin/env bash
# The main job on the embedded default model (tiny-mnist int8): show it, measure its accuracy with
# the golden integer model, and verify torch, golden and QONNX bit for bit on real MNIST images.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
accel info
accel eval
accel verify --levels torch,golden,qonnx --images 1000
