#!/bin/sh
# Installs the Debian packages the project needs when they are missing, then returns.
#   mesa-vulkan-drivers  WebGPU on the CPU (lavapipe) when there is no GPU driver
#   libonnx-testdata     ONNX's operator test vectors (tests)
#   dataset-fashion-mnist  the real Fashion-MNIST (fashion_mnist pipeline)
#   postgresql           a PostgreSQL server (tests of the retraining history's PostgreSQL store)
#   chromium             headless Chromium (tests of the HTML reports)
# Usage: sh scripts/setup.sh [--test] [--fashion] [--postgres]
#   --test adds what only the tests need (the vectors, PostgreSQL and Chromium: installed here,
#   before the test files run side by side, since two apt-get runs at once fail on dpkg's lock);
#   --fashion adds the Fashion-MNIST data set; --postgres adds PostgreSQL (initdb and pg_ctl
#   land in /usr/lib/postgresql/<version>/bin)
set -e
want="mesa-vulkan-drivers"
for a in "$@"; do
  [ "$a" = "--test" ] && want="$want libonnx-testdata postgresql chromium"
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
# Another apt-get (a test file installing what it needs by itself) is waited for, not failed on.
wait="-o DPkg::Lock::Timeout=600"
if ! { $sudo apt-get $wait update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get $wait install -y -qq --no-install-recommends $missing; } >/tmp/setup-apt.log 2>&1; then
  echo "setup: could not install$missing (see /tmp/setup-apt.log); continuing" >&2
fi
exit 0
