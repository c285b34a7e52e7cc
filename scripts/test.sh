#!/usr/bin/env bash
# The test command (README, .ci/run): installs what it needs, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Two workers (the RTL simulations are long single-threaded runs); a test file stays on one worker
# (its module fixtures are made once), slowest files first (tests/conftest.py SLOW_FIRST; xdist's
# own reordering by test count would start them last).
exec .venv/bin/python -m pytest -q --durations=40 -n 2 --dist loadfile --no-loadscope-reorder "$@"
