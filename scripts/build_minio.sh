#!/usr/bin/env bash
# Build the pinned MinIO server from source (the community edition ships as source only) into
# $DRM_TOOLS/bin/minio; reruns and later checkouts skip the 5-minute build (scripts/go_install.sh).
#   DRM_TOOLS  cache root (default ~/.cache/drm-tools)
set -euo pipefail
# Pinned: the newest module version the Go proxy served on 2026-11-22 (MinIO's RELEASE tags are not semver,
# so Go sees pseudo-versions). Change it here and the stamp forces a rebuild.
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
exec bash "$(dirname "${BASH_SOURCE[0]}")/go_install.sh" minio github.com/minio/minio "$MINIO_VERSION"
