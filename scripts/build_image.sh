#!/usr/bin/env bash
# Build the service image with `make build-image` where Docker is missing: rootful podman (Debian's), its state in
# $DRM_TOOLS/podman. The base image is pulled where a registry answers, else made locally from Debian packages
# (scripts/make_base_image.sh). Run as root from the repository. Prints the image's size and the build time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."
# shellcheck source=scripts/podman_env.sh
source "$here/podman_env.sh"
BASE_IMAGE="${BASE_IMAGE:-docker.io/library/python:3.11-slim}"
say() { printf 'build_image: %s\n' "$*"; }

command -v podman >/dev/null || { echo "build_image: error: podman is not installed (apt-get install podman buildah runc debootstrap)" >&2; exit 1; }
if ! podman image exists "$BASE_IMAGE"; then
  if timeout 60 podman pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
    say "pulled $BASE_IMAGE"
  else
    say "$BASE_IMAGE cannot be pulled here; making a local stand-in from Debian packages"
    bash "$here/make_base_image.sh"
  fi
fi
image="$(make --no-print-directory -s -f make/kube.mk -f - print-image <<<'print-image: ; @echo $(IMAGE)')"
# The image records a digest of everything it is built from (label io.drm.inputs); an image built from these very
# inputs is kept, so `make test` and .ci/run can both ask for it without building it twice.
inputs="$( { sha256sum Dockerfile service_requirements.txt LICENSE; \
  find configuration diabetes_risk_model -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum; } \
  | sha256sum | cut -d' ' -f1)"
if podman image exists "$image" \
   && [[ "$(podman image inspect --format '{{index .Labels "io.drm.inputs"}}' "$image")" == "$inputs" ]]; then
  say "$image is up to date (inputs $inputs)"
  exit 0
fi
start=$(date +%s)
DRM_IMAGE_INPUTS="$inputs" nice -n 19 make --no-print-directory build-image DOCKER="$here/podman_docker.sh"
size="$(podman image inspect --format '{{.Size}}' "$image")"
say "built $image in $(( $(date +%s) - start )) s; size $(( size / 1000000 )) MB"
