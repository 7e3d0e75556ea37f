#!/usr/bin/env bash
# A local stand-in for docker.io/library/python:3.11-slim, for machines that cannot reach Docker Hub: Debian 12
# (debootstrap --variant=minbase) with Debian's python3.11, imported into podman under the official name, so the
# Dockerfile builds unchanged. Same layout as the official image where the Dockerfile relies on it:
# /usr/local/bin/{python,python3,pip}, LANG=C.UTF-8, apt's docker-clean hook.
#
# Run as root (debootstrap, chroot). Skipped when the image exists. Podman state: scripts/podman_env.sh.
#   BASE_IMAGE  name to import as (default docker.io/library/python:3.11-slim)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/podman_env.sh
source "$here/podman_env.sh"

BASE_IMAGE="${BASE_IMAGE:-docker.io/library/python:3.11-slim}"
SUITE=bookworm
say() { printf 'make_base_image: %s\n' "$*"; }
die() { printf 'make_base_image: error: %s\n' "$*" >&2; exit 1; }

if podman image exists "$BASE_IMAGE"; then
  say "$BASE_IMAGE already present"
  exit 0
fi
[[ "$(id -u)" == 0 ]] || die "run as root (debootstrap and chroot need it)"
for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install podman buildah runc debootstrap)"
done

# The Debian mirror this machine's apt already uses.
mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
root="$(mktemp -d "${TMPDIR:-/tmp}/drm-base.XXXXXX")"
cleanup() { umount "$root/proc" 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT

start=$(date +%s)
say "debootstrap --variant=minbase $SUITE from $mirror"
nice -n 19 debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >/dev/null
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then  # the host's sources replace debootstrap's one line
  rm -f "$root/etc/apt/sources.list"; cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
say "apt-get install python3.11 python3.11-venv python3-pip ca-certificates (in the chroot)"
nice -n 19 chroot "$root" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null &&
  apt-get install -y -q --no-install-recommends python3.11 python3.11-venv python3-pip ca-certificates >/dev/null &&
  apt-get clean && rm -rf /var/lib/apt/lists/*'
umount "$root/proc"
mountpoint -q "$root/proc" && die "$root/proc is still mounted"
rm -f "$root/etc/resolv.conf"
# As Debian's official images do: no apt caches left behind by later apt-get runs.
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
bin="$root/usr/local/bin"
ln -s /usr/bin/python3.11 "$bin/python3.11"; ln -s python3.11 "$bin/python3"; ln -s python3 "$bin/python"
ln -s /usr/bin/pip3 "$bin/pip3.11"; ln -s pip3.11 "$bin/pip3"; ln -s pip3 "$bin/pip"
version="$(chroot "$root" /usr/bin/python3.11 -c 'import platform; print(platform.python_version())')"
say "podman import as $BASE_IMAGE (Python $version)"
tar -C "$root" --one-file-system -c . | podman import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change "ENV PYTHON_VERSION=$version" --change 'CMD ["python3"]' \
  - "$BASE_IMAGE" >/dev/null
say "made $BASE_IMAGE in $(( $(date +%s) - start )) s"
