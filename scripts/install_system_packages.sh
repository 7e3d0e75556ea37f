#!/usr/bin/env bash
# Debian packages the suite needs beyond Python 3.11 and Go (CI runs this; it needs root):
#   etcd-server                      the control plane's store (tests/kube; scripts/build_control_plane.sh)
#   podman, buildah, runc, ...       building and running the service image (tests/kube/test_image.py)
#   debootstrap                      the local stand-in base image where Docker Hub is unreachable
#   containerd, runc, CNI plugins,   the Kubernetes node of tests/kube (scripts/build_node.sh): its container
#   busybox-static                   runtime, pod network and the small images it makes (pause, MinIO, mc)
#   chromium                         the headless browser that opens the service's /docs (tests/service/test_docs.py);
#                                    Debian's security archive replaces old builds, so the pin is the major version
# Nothing is installed when every command is already there.
set -euo pipefail
need=(etcd podman buildah runc debootstrap slirp4netns conmon chromium containerd busybox /usr/lib/cni/bridge)
missing=()
for cmd in "${need[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install_system_packages: all present (${need[*]})"
  exit 0
fi
[[ "$(id -u)" == 0 ]] || { echo "install_system_packages: error: missing ${missing[*]}; run as root" >&2; exit 1; }
echo "install_system_packages: installing for ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends etcd-server=3.4.23\* podman buildah runc debootstrap uidmap \
  fuse-overlayfs slirp4netns netavark aardvark-dns catatonit conmon iptables golang-github-containers-common \
  chromium=156.\* containerd=1.6.20\* containernetworking-plugins=1.1.1\* busybox-static >/dev/null
