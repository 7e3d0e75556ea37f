"""A directory standing in for an S3 bucket: the embedded default store.

``file:///srv/models`` with bucket ``model-files`` stores objects in
``/srv/models/model-files/``. It behaves like the MinIO store where it
matters to callers: a missing bucket or object raises the same exceptions,
and uploads and downloads are atomic.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from diabetes_risk_model.errors import BucketNotFound, ObjectNotFound, StorageError
from diabetes_risk_model.files import CHUNK_SIZE, atomic_writer
from diabetes_risk_model.storage.base import validate_object_name


class LocalStore:
    """Objects as files in ``root / bucket``."""

    def __init__(self, root: Path, bucket: str) -> None:
        self.root = Path(root)
        self.bucket = validate_object_name(bucket)

    @property
    def bucket_dir(self) -> Path:
        return self.root / self.bucket

    def _object_path(self, object_name: str) -> Path:
        return self.bucket_dir / validate_object_name(object_name)

    def upload(self, path: Path, object_name: str, progress: bool = False) -> None:
        source = Path(path)
        if not source.is_file():
            raise StorageError(f"no file to upload at {source}", path=str(source))
        target = self._object_path(object_name)
        with source.open("rb") as src, atomic_writer(target) as dst:
            shutil.copyfileobj(src, dst, CHUNK_SIZE)

    def download(self, object_name: str, destination: Path) -> Path:
        source = self._object_path(object_name)
        if not self.bucket_dir.is_dir():
            raise BucketNotFound(f"bucket {self.bucket!r} does not exist under {self.root}", bucket=self.bucket)
        if not source.is_file():
            raise ObjectNotFound(
                f"object {object_name!r} not found in bucket {self.bucket!r}", bucket=self.bucket, object=object_name
            )
        destination = Path(destination)
        with source.open("rb") as src, atomic_writer(destination) as dst:
            shutil.copyfileobj(src, dst, CHUNK_SIZE)
        return destination

    def exists(self, object_name: str) -> bool:
        return self._object_path(object_name).is_file()

    def list(self) -> list[str]:
        if not self.bucket_dir.is_dir():
            raise BucketNotFound(f"bucket {self.bucket!r} does not exist under {self.root}", bucket=self.bucket)
        return sorted(
            p.relative_to(self.bucket_dir).as_posix()
            for p in self.bucket_dir.rglob("*")
            if p.is_file() and not p.name.endswith(".part")
        )

    def __repr__(self) -> str:
        return f"LocalStore(root={str(self.root)!r}, bucket={self.bucket!r})"
