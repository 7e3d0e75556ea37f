"""What the rest of the package needs from a model store, and nothing more.

Two implementations stand behind it: :class:`~.minio_store.MinioStore` (S3,
what deployments use) and :class:`~.local.LocalStore` (a directory, the
embedded default that lets the whole path run with no server).

Both write atomically, through the package's one helper
(:func:`diabetes_risk_model.files.atomic_writer`): a download lands in a
temporary file beside the destination and is renamed into place only when
complete, so a failed or interrupted transfer never leaves a half-written
package where a verifier might read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class ModelStore(Protocol):
    """A bucket of model packages addressed by object name."""

    bucket: str

    def upload(self, path: Path, object_name: str, progress: bool = False) -> None:
        """Store the file at *path* as *object_name*, creating the bucket if it is missing."""

    def download(self, object_name: str, destination: Path) -> Path:
        """Stream *object_name* into *destination* (atomically) and return it."""

    def exists(self, object_name: str) -> bool:
        """Whether *object_name* is in the bucket."""

    def list(self) -> list[str]:
        """Object names in the bucket, sorted."""


def validate_object_name(object_name: str) -> str:
    """Refuse object names that could escape a bucket directory or confuse S3 clients (see
    :func:`diabetes_risk_model.names.check_name`; any file name is allowed, up to S3's 1024 characters)."""
    from diabetes_risk_model.errors import StorageError
    from diabetes_risk_model.names import check_name

    try:
        check_name(object_name, max_length=1024, portable=False, error=StorageError)
    except StorageError:
        raise StorageError(f"invalid object name {object_name!r}", object_name=object_name) from None
    return object_name
