# Sourced by scripts/make_base_image.sh and scripts/build_image.sh: a rootful podman whose configuration and
# storage live under $DRM_TOOLS/podman (outside the repository; /etc/containers is left alone).
#
# The settings are the ones this kind of machine (a VM with cgroups in hybrid mode, no CAP_SYS_RESOURCE) needs:
#   ulimits capped      podman's defaults (nofile/nproc 1048576) exceed the hard limits here
#   runc, cgroupfs      crun 1.8.1 refuses cgroups in hybrid mode; no systemd to manage cgroups
# shellcheck shell=bash

DRM_TOOLS="${DRM_TOOLS:-$HOME/.cache/drm-tools}"
PODMAN_HOME="$DRM_TOOLS/podman"
mkdir -p "$PODMAN_HOME/storage" "$PODMAN_HOME/run"
cat > "$PODMAN_HOME/containers.conf.new" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
EOF
mv "$PODMAN_HOME/containers.conf.new" "$PODMAN_HOME/containers.conf"
cat > "$PODMAN_HOME/storage.conf.new" <<EOF
[storage]
driver = "overlay"
graphroot = "$PODMAN_HOME/storage"
runroot = "$PODMAN_HOME/run"
EOF
mv "$PODMAN_HOME/storage.conf.new" "$PODMAN_HOME/storage.conf"
export CONTAINERS_CONF="$PODMAN_HOME/containers.conf" CONTAINERS_STORAGE_CONF="$PODMAN_HOME/storage.conf"
