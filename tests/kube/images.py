"""Container images for the test node, made here instead of pulled: there is no registry to pull from.

Each image is one layer (an uncompressed tar) written as an OCI image archive that ``ctr images import`` takes:
- ``pause``: busybox sleeping forever, the pod sandbox image;
- ``minio`` and ``mc``: busybox (for the chart's ``/bin/sh`` scripts) plus the MinIO server and client this
  project builds from source (scripts/build_minio.sh, scripts/build_node.sh), under ``localhost/`` names with the
  pinned module version as the tag, so nothing pretends to be the vendor's image.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

BUSYBOX_COMMANDS = ("sh", "sleep", "cat", "echo", "ls", "expr", "head", "wc", "rm", "mkdir", "env", "id", "true")
PASSWD = b"root:x:0:0:root:/:/bin/sh\nminio:x:1000:1000::/tmp:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n"


@dataclass(frozen=True)
class Image:
    name: str
    archive: Path


def _busybox() -> Path:
    found = shutil.which("busybox")
    if not found:
        raise FileNotFoundError("busybox is not installed; as root: bash scripts/install_system_packages.sh")
    return Path(found)


def _layer(files: dict[str, bytes | Path]) -> bytes:
    """A tar of ``files`` (path in the image -> content or a file to copy), with busybox's applets linked."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        parents = {str(parent) for path in files for parent in Path(path).parents if str(parent) != "."}
        for directory in sorted(parents | {"tmp", "etc", "bin", "proc", "sys", "dev"}):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        for path, content in sorted(files.items()):
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o755 if path.startswith(("bin/", "usr/bin/")) else 0o644
            tar.addfile(info, io.BytesIO(data))
        for command in BUSYBOX_COMMANDS:
            info = tarfile.TarInfo(f"bin/{command}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return buffer.getvalue()


def write_image(out: Path, name: str, files: dict[str, bytes | Path], entrypoint: list[str]) -> Image:
    """An OCI image archive of one layer holding busybox and ``files``, named ``name`` for ``ctr images import``."""
    layer = _layer({"bin/busybox": _busybox(), "etc/passwd": PASSWD, **files})
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Entrypoint": entrypoint, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(json.dumps(config).encode())},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **blob(layer)}],
    }
    entry = blob(json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **entry,
                "annotations": {"io.containerd.image.name": name},
            }
        ],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    members = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", json.dumps(index).encode())]
    members += [(f"blobs/sha256/{digest[7:]}", data) for digest, data in blobs.items()]
    with tarfile.open(out, "w") as tar:
        for member, data in members:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return Image(name, out)


def pause_image(directory: Path) -> Image:
    return write_image(directory / "pause.tar", "localhost/pause:drm", {}, ["/bin/sleep", "2147483647"])


def minio_image(directory: Path, minio: Path, version: str) -> Image:
    """The chart runs ``/bin/sh -ce "/usr/bin/docker-entrypoint.sh minio server ..."``."""
    entrypoint = b'#!/bin/sh\nexec "$@"\n'
    files: dict[str, bytes | Path] = {"usr/bin/minio": minio, "usr/bin/docker-entrypoint.sh": entrypoint}
    return write_image(directory / "minio.tar", f"localhost/minio:{version}", files, ["/usr/bin/docker-entrypoint.sh"])


def mc_image(directory: Path, mc: Path, version: str) -> Image:
    """The chart's jobs run ``/bin/sh /config/add-user`` and friends, which call ``/usr/bin/mc``."""
    return write_image(directory / "mc.tar", f"localhost/mc:{version}", {"usr/bin/mc": mc}, ["/usr/bin/mc"])
