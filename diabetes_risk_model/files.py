"""One helper for writing files atomically: a temporary file in the same directory, renamed into place.

Used wherever a half-written file must never appear under its final name (packages, keyrings, metrics,
downloads). On any error the temporary file is removed and the destination is left as it was.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1 << 20
"""The one streaming step for reading, hashing, copying and downloading files: large enough for hashlib to run at
full speed, small enough to keep RSS flat."""


@contextmanager
def atomic_writer(destination: Path, *, mode: int = 0o644, fsync: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces *destination* (with permissions *mode*) only if the block succeeds.

    The temporary file is created with mode 0600 and only widened to *mode* just before the rename, so a
    secret written through it (``mode=0o600``) is never readable by others, even for a moment. With *fsync*
    (the default) the data is on disk before the rename. The file is seekable (the zip writer patches headers).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "r+b") as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a whole file, streamed in :data:`CHUNK_SIZE` steps through one reused buffer."""
    sha = hashlib.sha256()
    view = memoryview(bytearray(CHUNK_SIZE))
    with open(path, "rb", buffering=0) as stream:
        while n := stream.readinto(view):
            sha.update(view[:n])
    return sha.hexdigest()
