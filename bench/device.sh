#!/bin/sh
# The engine's benchmarks on a GPU machine and, in the same run, the same networks in
# PyTorch (CUDA when present: fp32, TF32 off, same batch sizes), written as one JSON file.
#
#   sh bench/device.sh --prepare   here: fetch what the GPU machine lacks into .cache/device/
#                                  (Debian's Vulkan loader and GL libraries, the deno binary)
#   sh bench/device.sh [--quick]   there (or here, on lavapipe and PyTorch CPU): run it all,
#                                  write $OUT/device.json (default out/device/device.json)
#
# On the device tool, one call, carrying the prepared folder:
#   run(command="sh bench/device.sh", carry=[".cache/device"], timeout_s=600)
# The figures: bench/main.ts --json lines (matmul, cnn with its profile, conv, vgg) with
# their PyTorch peers and ratios, the adapter, nvidia-smi, and per-phase exit codes and logs.
# Each phase has its own time limit so that the whole run ends within BUDGET seconds (540).
set -u
PATH=$PATH:/sbin:/usr/sbin
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
DEV=.cache/device
QUICK=""

if [ "${1:-}" = "--prepare" ]; then
  mkdir -p "$DEV/gl"
  (cd "$DEV/gl" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 \
    libgles2 >/dev/null 2>&1) || echo "device.sh: apt-get download failed" >&2
  bin=$(readlink -f "$(command -v deno)")
  [ -f "$DEV/deno.xz" ] || xz -T0 -6 -c "$bin" >"$DEV/deno.xz"
  du -sh "$DEV"
  echo 'carry: [".cache/device"]; command: sh bench/device.sh'
  exit 0
fi
[ "${1:-}" = "--quick" ] && QUICK="--quick"

OUT=${OUT:-$ROOT/out/device}
mkdir -p "$OUT"
LOG="$OUT/logs"
mkdir -p "$LOG"
START=$(date +%s)
BUDGET=${BUDGET:-540}
left() { echo $((BUDGET - ($(date +%s) - START))); }

# 1. The Vulkan loader and GL libraries (the NVIDIA ICD needs libglvnd), unpacked over /.
have_vulkan() {
  ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 ||
    ls /usr/lib/x86_64-linux-gnu/libvulkan.so.1 /usr/lib64/libvulkan.so.1 >/dev/null 2>&1
}
if ls "$DEV"/gl/*.deb >/dev/null 2>&1 && ! have_vulkan; then
  for f in "$DEV"/gl/*.deb; do dpkg -x "$f" / 2>>"$LOG/setup.txt"; done
  ldconfig 2>>"$LOG/setup.txt"
fi

# 2. deno: on PATH, or the carried binary.
DENO=$(command -v deno || true)
if [ -z "$DENO" ] && [ -f "$DEV/deno.xz" ]; then
  DENO=/tmp/deno-device
  if [ ! -x "$DENO" ]; then
    xz -dc "$DEV/deno.xz" >"$DENO" 2>/dev/null ||
      python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" \
        "$DEV/deno.xz" "$DENO"
    chmod +x "$DENO"
  fi
fi
[ -n "$DENO" ] || { echo "device.sh: no deno (run --prepare here first)" >&2; exit 2; }

# 3. A WebGPU adapter through Vulkan; the NVIDIA ICD named explicitly when none is found.
export DENO_WEBGPU_BACKEND=vulkan
export DENO_NO_UPDATE_CHECK=1
probe() {
  "$DENO" eval --no-config 'const a = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
const i = a?.info;
console.log(JSON.stringify(a ? { ok: true, info: { vendor: i.vendor, architecture: i.architecture,
  device: i.device, description: i.description }, features: [...a.features] } : { ok: false }));' \
    2>>"$LOG/probe.txt" | tail -n 1
}
ADAPTER=$(probe)
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
case "$ADAPTER" in *'"ok":true'*) ;; *)
  if [ -f "$NV_ICD" ]; then
    export VK_DRIVER_FILES="$NV_ICD"
    ADAPTER=$(probe)
  fi
  ;;
esac
[ -n "$ADAPTER" ] || ADAPTER='{"ok":false}'

# 4. The PyTorch peer's device and interpreter.
PY=${TORCH_PYTHON:-python3}
TORCH_DEV=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')" 2>/dev/null || echo none)
export TORCH_PYTHON="$PY"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/nvidia-smi.txt" 2>/dev/null || true

# 5. The benchmarks, one phase each (stdout: JSON lines; the report goes to logs/).
phase() { # name limit args...
  name=$1 limit=$2
  shift 2
  t=$(left)
  [ "$t" -lt "$limit" ] && limit=$t
  if [ "$limit" -le 5 ]; then
    echo "{\"phase\":\"$name\",\"skipped\":\"out of time\"}" >>"$OUT/lines.jsonl"
    return
  fi
  # --no-config: the project's npm imports (peers not run here) are neither needed nor
  # installable without a registry.
  timeout "$limit" "$DENO" run --no-config --no-lock -A bench/main.ts "$@" $QUICK --json --no-tfjs \
    --torch-device="$TORCH_DEV" >"$LOG/$name.jsonl" 2>"$LOG/$name.txt"
  rc=$?
  cat "$LOG/$name.jsonl" >>"$OUT/lines.jsonl"
  echo "{\"phase\":\"$name\",\"rc\":$rc,\"limit\":$limit}" >>"$OUT/lines.jsonl"
}
: >"$OUT/lines.jsonl"
if [ "$TORCH_DEV" = none ]; then TORCH_DEV=cpu; fi
phase matmul 90 matmul
phase cnn 200 cnn --profile
phase conv 90 conv
phase vgg 120 vgg
phase mlp 40 mlp

# 6. One JSON of everything.
"$PY" - "$OUT" "$ADAPTER" "$TORCH_DEV" "$(($(date +%s) - START))" <<'PYEOF' || cp "$OUT/lines.jsonl" "$OUT/device.json"
import json, os, sys
out, adapter, torch_dev, secs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lines = []
for l in open(os.path.join(out, "lines.jsonl")):
    l = l.strip()
    if l:
        try:
            lines.append(json.loads(l))
        except ValueError:
            lines.append({"unparsed": l[:500]})
smi = open(os.path.join(out, "nvidia-smi.txt")).read().strip() if os.path.exists(os.path.join(out, "nvidia-smi.txt")) else ""
try:
    adapter = json.loads(adapter)
except ValueError:
    adapter = {"raw": adapter}
doc = {
    "adapter": adapter,
    "vkDriverFiles": os.environ.get("VK_DRIVER_FILES"),
    "nvidiaSmi": smi,
    "torchDevice": torch_dev,
    "seconds": secs,
    "benches": [l for l in lines if "bench" in l],
    "phases": [l for l in lines if "phase" in l],
    "other": [l for l in lines if "bench" not in l and "phase" not in l],
}
json.dump(doc, open(os.path.join(out, "device.json"), "w"), indent=1)
print(json.dumps({"device.json": os.path.join(out, "device.json"), "benches": len(doc["benches"]),
                  "phases": doc["phases"], "adapter": adapter.get("info", adapter)}))
PYEOF
