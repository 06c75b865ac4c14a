#!/usr/bin/env bash
# The GPU device check in one command, from the repository root of a checkout that holds the
# payload made by tests/device/prepare.py:
#
#     bash tests/device/run.sh [--no-torch]
#
# Needs gcc, make, Python with numpy (and torch for the timings) and an NVIDIA GPU + driver;
# no TVM, no onnx, no network. Builds runtime_min here, then runs tests/device/check.py.
# Writes the table to stdout and to $OUT/device_check.txt when $OUT is set.
set -euo pipefail
cd "$(dirname "$0")/../.."
PAYLOAD=tests/device/payload
BUILD=${RONN_DEVICE_BUILD:-/tmp/ronn-device-runtime}
PY=${PYTHON:-python3}
[ -f "$PAYLOAD/manifest.json" ] || { echo "no $PAYLOAD/manifest.json: run tests/device/prepare.py on the build machine first" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader || true
make -s -C runtime_min BUILD="$BUILD" >/dev/null
LOG=${OUT:-/tmp}/device_check.txt
status=0
timeout 330 "$PY" tests/device/check.py --payload "$PAYLOAD" --runtime "$BUILD/libronn_runtime.so" "$@" 2>&1 \
  | tee "$LOG" || status=$?
[ -n "${OUT:-}" ] && cp "$PAYLOAD/results.json" "$OUT/" 2>/dev/null || true
exit "$status"
