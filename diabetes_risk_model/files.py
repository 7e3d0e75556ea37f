"""One helper for writing files atomically: a temporary file in the same directory, renamed into place.

Used wherever a half-written file must never appear under its final name (packages, keyrings, metrics,
downloads). On any error the temporary file is removed and the destination is left as it was.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1 << 20
"""The one streaming step for reading, hashing, copying and downloading files: large enough for hashlib to run at
full speed, small enough to keep RSS flat."""


WRITEBACK_STEP = 8 << 20
"""How many bytes :func:`atomic_writer` lets pile up before it asks the kernel to start writing them to disk."""

_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of dirty pages in the range; do not wait


@functools.cache
def _load_sync_file_range() -> Callable[[int, int, int], None] | None:
    """libc's ``sync_file_range(2)`` (Linux; the ``os`` module has no binding), or None where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range  # the process's own symbols: libc's
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int

    def start(fd: int, offset: int, length: int) -> None:
        function(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # advisory: a failure only leaves work for fsync

    return start


class _EagerWriteback(io.BufferedRandom):
    """A file that starts writeback every :data:`WRITEBACK_STEP` bytes, so the closing ``fsync`` only waits
    for the tail instead of the whole file (for a 1 GiB package: milliseconds instead of a third of a second).
    """

    def __init__(self, raw: io.FileIO, start_writeback: Callable[[int, int, int], None]) -> None:
        super().__init__(raw)
        self._start_writeback = start_writeback
        self._mark = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        written = super().write(data)
        position = self.tell()  # behind the mark after a seek back (a zip header patch): the closing fsync covers it
        if position - self._mark >= WRITEBACK_STEP:
            self.flush()
            self._start_writeback(self.fileno(), self._mark, position - self._mark)
            self._mark = position
        return written


@contextmanager
def atomic_writer(destination: Path, *, mode: int = 0o644, fsync: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces *destination* (with permissions *mode*) only if the block succeeds.

    The temporary file is created with mode 0600 and only widened to *mode* just before the rename, so a
    secret written through it (``mode=0o600``) is never readable by others, even for a moment. With *fsync*
    (the default) the data is on disk before the rename; writeback starts while the block is still writing.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    tmp = Path(tmp_name)
    try:
        start_writeback = _load_sync_file_range() if fsync else None
        raw = io.FileIO(fd, "r+")
        handle = _EagerWriteback(raw, start_writeback) if start_writeback else io.BufferedRandom(raw)
        with handle:
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
