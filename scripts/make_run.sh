#!/usr/bin/env bash
# `make run`: the MinIO build (Go, CPU) runs in the background while the venv installs (network, disk) and the
# model trains; scripts/run_local.py waits for the build only when it needs the store, after training.
#   MAKE, PYTHON, MINIO_BIN, KEYS_DIR   from the Makefile; MINIO_URL set: nothing is built
# Each phase prints a UTC timestamp (`==> [hh:mm:ss] ...`) so a slow first run shows where the time went.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run
stamp() { echo "==> [$(date -u +%H:%M:%S)] $*"; }

build_status=.run/minio-build.status
rm -f "$build_status"
build_pid=""
if [[ -n "${MINIO_URL:-}" ]]; then
  : # the store is given; nothing to build
elif [[ -x "$MINIO_BIN" ]] || command -v go >/dev/null 2>&1; then
  stamp "building MinIO in the background (log .run/minio-build.log)"
  set -m  # the build gets its own process group, so stopping it stops `go` and its compilers too
  ( status=0; bash scripts/build_minio.sh > .run/minio-build.log 2>&1 || status=$?
    echo "$status" > "$build_status" ) &
  build_pid=$!
  set +m
else
  echo "==> no MinIO binary at $MINIO_BIN and no Go toolchain to build one: skipping the MinIO build"
fi
# A failed install, data check or training leaves no build running behind it.
stop_build() { [[ -n "$build_pid" ]] && kill -TERM -- "-$build_pid" 2>/dev/null; true; }
trap 'status=$?; ((status == 0)) || stop_build' EXIT
trap 'exit 130' INT TERM

stamp "installing the locked packages"
"$MAKE" --no-print-directory install
stamp "checking the training data"
PYTHONPATH="$PWD" "$PYTHON" -m diabetes_risk_model.training.preflight --no-package
args=(--keys-dir "$KEYS_DIR")
[[ -n "$build_pid" ]] && args+=(--minio-build-status "$build_status")
"$PYTHON" scripts/run_local.py "${args[@]}"
