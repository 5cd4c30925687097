#!/bin/sh
# Installs the Debian packages the project needs when they are missing, then returns.
#   mesa-vulkan-drivers  WebGPU on the CPU (lavapipe) when there is no GPU driver
#   libonnx-testdata     ONNX's operator test vectors (tests)
#   dataset-fashion-mnist  the real Fashion-MNIST (fashion_mnist pipeline)
#   postgresql           a PostgreSQL server (tests of the retraining history's PostgreSQL store)
# Usage: sh scripts/setup.sh [--test] [--fashion] [--postgres]
#   --test adds what only the tests need; --fashion adds the Fashion-MNIST data set;
#   --postgres adds PostgreSQL (initdb and pg_ctl land in /usr/lib/postgresql/<version>/bin)
set -e
want="mesa-vulkan-drivers"
for a in "$@"; do
  [ "$a" = "--test" ] && want="$want libonnx-testdata"
  [ "$a" = "--fashion" ] && want="$want dataset-fashion-mnist"
  [ "$a" = "--postgres" ] && want="$want postgresql"
done
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: please install:$missing (no apt-get here)" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo -n"
echo "setup: installing$missing" >&2
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing; } >/tmp/setup-apt.log 2>&1; then
  echo "setup: could not install$missing (see /tmp/setup-apt.log); continuing" >&2
fi
exit 0
