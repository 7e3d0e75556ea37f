#!/usr/bin/env bash
# What a Kubernetes node for tests/kube needs beyond the control plane (scripts/build_control_plane.sh builds
# kube-scheduler and the kubelet with it):
#   containerd 1.6.20, runc, the CNI plugins, busybox   Debian packages (scripts/install_system_packages.sh)
#   CoreDNS v1.12.4                                     the cluster's DNS, built with go install
#   mc (the MinIO client)                               the MinIO chart's user job runs it, built with go install
# The binaries land in $DRM_TOOLS/bin with a stamp each; a rerun with the same pins does nothing.
# How tests/kube uses them: docs/development.md "Kubernetes in tests".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COREDNS_VERSION="v1.12.4"
# The newest github.com/minio/mc the Go proxy served on 2026-12-04 (a pseudo-version: mc's tags are not semver).
MC_VERSION="v0.0.0-20250313080218-cf909e1063a9"
CONTAINERD_VERSION="1.6.20"

die() { printf 'build_node: error: %s\n' "$*" >&2; exit 1; }
for cmd in containerd ctr runc busybox; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd is not installed; as root: bash scripts/install_system_packages.sh"
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] \
  || die "the CNI plugins are not in /usr/lib/cni; as root: bash scripts/install_system_packages.sh"
found="$(containerd --version | awk '{print $3}')"
[[ "$found" == "$CONTAINERD_VERSION"* ]] || die "containerd $found; tests/kube needs $CONTAINERD_VERSION (apt-get install containerd=$CONTAINERD_VERSION*)"

bash "$here/go_install.sh" coredns github.com/coredns/coredns "$COREDNS_VERSION"
bash "$here/go_install.sh" mc github.com/minio/mc "$MC_VERSION"
