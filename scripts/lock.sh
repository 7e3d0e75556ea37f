#!/usr/bin/env bash
# Resolve the *.in files into exact pins with a sha256 hash for every distribution, using uv's pip compile:
#   requirements.txt          <- requirements.in
#   service_requirements.txt  <- service_requirements.in  (constrained by requirements.txt: same pycaret,
#                                                          scikit-learn, numpy, pandas as training; without
#                                                          the packages in service_requirements.prune)
#   requirements-dev.txt      <- requirements-dev.in      (constrained by requirements.txt)
# Every consumer installs them with `pip install --require-hashes`.
#
# Versions already in a lock file are kept (uv reads the existing output file as its preferences); only a
# package that the *.in files no longer allow moves. To upgrade on purpose, pass uv's flags through:
#   bash scripts/lock.sh --upgrade-package minio      (or: make lock LOCK_ARGS="--upgrade-package minio")
#   bash scripts/lock.sh --upgrade                    (everything)
#
# The lock tool is pinned too: uv $UV_VERSION, installed with --require-hashes from scripts/lock-tool.txt into
# a cache outside the repository and outside every venv (nothing in .venv changes).
#   PYTHON     interpreter that runs pip to install uv (default python3.11)
#   DRM_TOOLS  cache root (default ~/.cache/drm-tools); uv lands in $DRM_TOOLS/uv-$UV_VERSION
# Needs access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.8"  # must match scripts/lock-tool.txt
# Resolve for the platform that installs the locks: CPython 3.11 on x86_64 Linux (this machine, CI, the image).
TARGET=(--python-version 3.11 --python-platform x86_64-unknown-linux-gnu)

py="${PYTHON:-python3.11}"
tools="${DRM_TOOLS:-$HOME/.cache/drm-tools}/uv-$UV_VERSION"
uv="$tools/bin/uv"
if [[ ! -x "$uv" ]] || [[ "$("$uv" --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
  echo "lock: installing uv $UV_VERSION into $tools"
  rm -rf "$tools"
  "$py" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
    --target "$tools" -r scripts/lock-tool.txt
fi

lock() {  # lock IN OUT [constraints...] -- then uv flags from the command line
  local in="$1" out="$2"
  shift 2
  local args=(pip compile "$in" -o "$out" --generate-hashes "${TARGET[@]}" --quiet
    --custom-compile-command "bash scripts/lock.sh")
  while [[ $# -gt 0 && "$1" != "--" ]]; do args+=(-c "$1"); shift; done
  [[ $# -gt 0 ]] && shift
  "$uv" "${args[@]}" "$@"
  echo "lock: $out ($(grep -cE '^[A-Za-z0-9]' "$out") packages, $(grep -c -- '--hash=sha256:' "$out") hashes)"
}

lock requirements.in requirements.txt -- "$@"
prune=()  # --no-emit-package for each name in service_requirements.prune (the service never imports them)
while read -r name _; do prune+=(--no-emit-package "$name"); done < <(sed 's/#.*//' service_requirements.prune | grep -v '^\s*$')
lock service_requirements.in service_requirements.txt requirements.txt -- "${prune[@]}" "$@"
lock requirements-dev.in requirements-dev.txt requirements.txt -- "$@"
