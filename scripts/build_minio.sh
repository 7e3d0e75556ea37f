#!/usr/bin/env bash
# Build the pinned MinIO server from source with `go install` (the community edition ships as source only).
# The binary goes to a cache outside the repository, so reruns and later checkouts skip the 5-minute build.
#   DRM_TOOLS  cache root (default ~/.cache/drm-tools); the binary lands in $DRM_TOOLS/bin/minio
set -euo pipefail

MINIO_MODULE="github.com/minio/minio"
# Pinned: the newest module version the Go proxy served on 2026-11-22 (MinIO's RELEASE tags are not semver,
# so Go sees pseudo-versions). Change it here and the stamp below forces a rebuild.
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

tools="${DRM_TOOLS:-$HOME/.cache/drm-tools}"
bin="$tools/bin/minio"
stamp="$tools/bin/.minio-version"

if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$MINIO_VERSION" ]]; then
  echo "minio: $MINIO_VERSION already built at $bin"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "minio: cannot build the MinIO server: 'go' is not on PATH (install Go >= 1.24, or set MINIO_BIN to a minio binary)" >&2
  exit 1
fi
mkdir -p "$tools/bin"
echo "minio: building $MINIO_MODULE@$MINIO_VERSION with $(go version | cut -d' ' -f3) (takes ~5 minutes on 2 cores)"
# -s -w: no symbol table or DWARF, which shortens the link (the slowest single step) and the binary.
GOBIN="$tools/bin" CGO_ENABLED=0 go install -trimpath -ldflags="-s -w" "$MINIO_MODULE@$MINIO_VERSION"
echo "$MINIO_VERSION" > "$stamp"
echo "minio: built $bin"
