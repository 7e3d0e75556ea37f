#!/usr/bin/env bash
# Build one pinned Go command with `go install MODULE@VERSION` into $DRM_TOOLS/bin (outside the repository).
# A stamp beside the binary records the version, so a rerun with the same pin does nothing.
#
#   bash scripts/go_install.sh NAME MODULE VERSION [PACKAGE]
#     NAME     the binary's name in $DRM_TOOLS/bin (minio, mc, coredns)
#     MODULE   the module path (github.com/minio/minio)
#     VERSION  the pinned module version (MinIO's RELEASE tags are not semver: Go sees pseudo-versions)
#     PACKAGE  the main package inside the module (default: the module itself)
#   DRM_TOOLS  cache root (default ~/.cache/drm-tools)
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: go_install.sh NAME MODULE VERSION [PACKAGE]" >&2; exit 2; }
name="$1" module="$2" version="$3" package="${4:-$2}"
tools="${DRM_TOOLS:-$HOME/.cache/drm-tools}"
bin="$tools/bin/$name"
stamp="$tools/bin/.$name-version"

if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
  echo "$name: $version already built at $bin"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "$name: cannot build $module: 'go' is not on PATH (install Go >= 1.24)" >&2; exit 1; }
mkdir -p "$tools/bin"
echo "$name: building $package@$version with $(go version | cut -d' ' -f3)"
start=$(date +%s)
# -s -w: no symbol table or DWARF, which shortens the link (the slowest single step) and the binary.
GOBIN="$tools/bin" CGO_ENABLED=0 nice -n 19 go install -trimpath -ldflags="-s -w" "$package@$version"
[[ "$(basename "$package")" == "$name" ]] || mv "$tools/bin/$(basename "$package")" "$bin"
echo "$version" > "$stamp"
echo "$name: built $bin in $(( $(date +%s) - start )) s"
