#!/usr/bin/env bash
# `docker` for `make build-image DOCKER=scripts/podman_docker.sh`, on machines without Docker: rootful podman
# configured by scripts/podman_env.sh. For `build` it adds:
#   --format docker keeps the Dockerfile's HEALTHCHECK (the OCI format drops it)
#   --pull=never    the base image is local (pulled, or made by scripts/make_base_image.sh)
#   --network host  the RUN steps reach the package index the host reaches
#   the host's CA bundle, bind-mounted read-only for the RUN steps only (a TLS-intercepting proxy signs the
#   index's certificates here); a bind mount is not a layer, so nothing of it stays in the image.
# Every other command goes to podman unchanged.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/podman_env.sh
source "$here/podman_env.sh"
if [[ "${1:-}" == build ]]; then
  shift
  ca=/etc/ssl/certs/ca-certificates.crt
  mounts=()
  [[ -f "$ca" ]] && mounts=(-v "$ca:$ca:ro")
  labels=()
  [[ -n "${DRM_IMAGE_INPUTS:-}" ]] && labels=(--label "io.drm.inputs=$DRM_IMAGE_INPUTS")
  exec podman build --format docker --pull=never --network host "${mounts[@]}" "${labels[@]}" "$@"
fi
exec podman "$@"
