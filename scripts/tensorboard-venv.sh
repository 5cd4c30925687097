#!/bin/sh
# Makes a Python virtual environment with TensorBoard for the tests of the event files
# (tests/stages/log/tensorboard_test.ts) and prints the path of its `tensorboard` command.
# Usage: sh scripts/tensorboard-venv.sh [VENV]
#   VENV default: $TENSORBOARD_VENV, else .cache/tensorboard-venv
# Exits non-zero, printing why on stderr, when Python's venv or TensorBoard cannot be had;
# an existing environment that imports tensorboard is used as it is.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-${TENSORBOARD_VENV:-$root/.cache/tensorboard-venv}}
if ! "$venv/bin/python" -c "import tensorboard" >/dev/null 2>&1; then
  python=$(command -v python3 || true)
  if [ -z "$python" ]; then
    echo "tensorboard-venv: no python3" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --retries 1 tensorboard >&2
  "$venv/bin/python" -c "import tensorboard" >&2
fi
echo "$venv/bin/tensorboard"
