#!/usr/bin/env bash
# The main job on the embedded default model (tiny-mnist int8): show it, measure its accuracy with
# the golden integer model, verify every level that runs here bit for bit against the golden model
# on real MNIST test images (torch, QONNX, hls4ml C-sim, our RTL under Verilator, plain C), then run
# the board flow for the Zybo: every stage that can run without Vivado (exit 3 = the vendor tools
# are missing here; it prints the commands to run where they are).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
accel info
accel eval
accel verify --levels torch,golden,qonnx,hls,rtl,c --images 200
status=0
accel build --board zybo || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 3 ]
