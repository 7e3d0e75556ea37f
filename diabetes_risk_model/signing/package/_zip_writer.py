"""The canonical zip writer: the one layout :mod:`.archive` accepts, written in one streaming pass per member.

Each member is hashed (SHA-256), CRC-ed and written while it is read, so building a package reads every input
once. On two cores the three run side by side: SHA-256 and the write each on a helper thread, the CRC on the
caller's, while the next chunk is read (:class:`_Pipeline`). hashlib, zlib and file writes release the GIL on
large buffers, so a 1 GiB member costs about as long as its SHA-256 alone (``benchmarks/bench_sign.py``).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from diabetes_risk_model.errors import UnsafeArchive
from diabetes_risk_model.files import CHUNK_SIZE
from diabetes_risk_model.names import check_name
from diabetes_risk_model.signing.package._archive import (
    CENTRAL_HEADER,
    CENTRAL_SIG,
    DEFLATED,
    DOS_DATE,
    DOS_TIME,
    END_RECORD,
    EOCD_SIG,
    LOCAL_HEADER,
    LOCAL_SIG,
    MAX_32,
    STORED,
    VERSION,
    ZipEntry,
)
from diabetes_risk_model.signing.package._limits import DEFAULT_LIMITS, Limits

_PARALLEL_MIN = 256 * 1024  # below this, a thread hand-off costs more than it saves

Chunk = bytes | memoryview


@dataclass(frozen=True)
class WrittenMember:
    """What the writer measured while streaming one member (the signed statement records all of it)."""

    name: str
    method: int
    size: int
    sha256: str
    compressed_size: int
    compressed_sha256: str
    crc32: int


def file_chunks(source: BinaryIO) -> Iterator[memoryview]:
    """Chunks of *source* in two alternating buffers: each view stays valid until the next-but-one is drawn,
    so a consumer may still be using one chunk while the next is read (:class:`_Pipeline` relies on it)."""
    views = [memoryview(bytearray(CHUNK_SIZE)), memoryview(bytearray(CHUNK_SIZE))]
    turn = 0
    while n := source.readinto(views[turn]):  # type: ignore[attr-defined]
        yield views[turn][:n]
        turn ^= 1


class _Pipeline:
    """Run the hash update and the write of one chunk on two helper threads, one chunk at a time.

    1. :meth:`start` hands a chunk to both threads (each is a single worker, so order is kept).
    2. :meth:`wait` blocks until the last chunk handed over is hashed and written, re-raising a write error.
    Small chunks are done on the caller's thread: a hand-off would cost more than it saves.
    """

    def __init__(self, hasher: ThreadPoolExecutor, writer: ThreadPoolExecutor) -> None:
        self._hasher = hasher
        self._writer = writer
        self._pending: list[Future[object]] = []

    def start(self, update: Callable[[Chunk], object], write: Callable[[Chunk], object], chunk: Chunk) -> None:
        self.wait()
        if len(chunk) < _PARALLEL_MIN:
            update(chunk)
            write(chunk)
            return
        self._pending = [self._hasher.submit(update, chunk), self._writer.submit(write, chunk)]

    def wait(self) -> None:
        pending, self._pending = self._pending, []
        errors = [job.exception() for job in pending]  # waits for both, so nothing still writes after a failure
        for error in errors:
            if error is not None:
                raise error


class CanonicalZipWriter:
    """Write members one by one into a seekable binary file, then the central directory.

    Each member is streamed in :data:`CHUNK_SIZE` steps; its local header is written as a placeholder and
    patched once the CRC and sizes are known, so no data descriptor is needed and the artifact is never
    held in memory.
    """

    def __init__(self, stream: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> None:
        self._stream = stream
        self._limits = limits
        self._entries: list[ZipEntry] = []
        self._names: set[str] = set()
        self._closed = False
        self._pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor] | None = None

    def add_stream(self, name: str, source: BinaryIO, *, compress: bool = False) -> WrittenMember:
        """Copy *source* (to its end) into the archive as member *name*."""
        return self.add_chunks(name, file_chunks(source), compress=compress)

    def add_chunks(self, name: str, chunks: Iterable[Chunk], *, compress: bool = False) -> WrittenMember:
        """Write the concatenation of *chunks* as member *name*.

        A chunk must stay unchanged until the next-but-one is drawn (:func:`file_chunks` keeps two buffers).
        """
        check_name(name, max_length=self._limits.max_name_length)
        if name.lower() in self._names:
            raise UnsafeArchive("duplicate member name")
        if len(self._entries) >= self._limits.max_members:
            raise UnsafeArchive("too many members")
        out = self._stream
        offset = out.tell()
        encoded = name.encode("ascii")
        out.write(b"\0" * (LOCAL_HEADER.size + len(encoded)))
        if compress:
            crc, size, sha, stored, stored_sha = self._deflate(name, chunks)
        else:
            crc, size, sha = self._store(name, chunks)
            stored, stored_sha = size, sha  # stored bytes are the uncompressed bytes: hashed once
        end = out.tell()
        if end > self._limits.max_total_size or size > MAX_32:
            raise UnsafeArchive("archive would need zip64 (over 4 GiB); refused")
        method = DEFLATED if compress else STORED
        out.seek(offset)
        header = (LOCAL_SIG, VERSION, 0, method, DOS_TIME, DOS_DATE, crc, stored, size, len(encoded), 0)
        out.write(LOCAL_HEADER.pack(*header))
        out.write(encoded)
        out.seek(end)
        entry = ZipEntry(name, method, crc, stored, size, offset, offset + LOCAL_HEADER.size + len(encoded))
        self._entries.append(entry)
        self._names.add(name.lower())
        return WrittenMember(
            name=name,
            method=method,
            size=size,
            sha256=sha.hexdigest(),
            compressed_size=stored,
            compressed_sha256=stored_sha.hexdigest(),
            crc32=crc,
        )

    def _store(self, name: str, chunks: Iterable[Chunk]) -> tuple[int, int, hashlib._Hash]:
        """Copy *chunks* as they are; returns (CRC-32, size, SHA-256).

        1. Draw the next chunk (the previous one may still be hashed and written meanwhile).
        2. Check the running size against the limit before anything of the chunk is written.
        3. Hand the chunk to the pipeline (hash and write), then CRC it here.
        4. At the end, wait for the last hash and write, even when a step failed.
        """
        sha = hashlib.sha256()
        crc = size = 0
        pipeline = _Pipeline(*self._helpers())
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > self._limits.max_member_size:
                    raise UnsafeArchive(f"member {name!r} is larger than the limit")
                pipeline.start(sha.update, self._stream.write, chunk)
                crc = zlib.crc32(chunk, crc)
        finally:
            pipeline.wait()
        return crc, size, sha

    def _deflate(self, name: str, chunks: Iterable[Chunk]) -> tuple[int, int, hashlib._Hash, int, hashlib._Hash]:
        """Compress *chunks* (small metadata members); returns (CRC-32, size, SHA-256, stored size, its SHA-256)."""
        sha, stored_sha = hashlib.sha256(), hashlib.sha256()
        crc = size = stored = 0
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
        for chunk in chunks:
            size += len(chunk)
            if size > self._limits.max_member_size:
                raise UnsafeArchive(f"member {name!r} is larger than the limit")
            sha.update(chunk)
            crc = zlib.crc32(chunk, crc)
            data = compressor.compress(chunk)
            stored_sha.update(data)
            self._stream.write(data)
            stored += len(data)
        tail = compressor.flush()
        stored_sha.update(tail)
        self._stream.write(tail)
        return crc, size, sha, stored + len(tail), stored_sha

    def _helpers(self) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
        if self._pools is None:
            self._pools = (
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256"),
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="zip-write"),
            )
        return self._pools

    def release(self) -> None:
        """Stop the helper threads (``close`` does it; call it when giving up on a half-written archive)."""
        if self._pools is not None:
            for pool in self._pools:
                pool.shutdown()
            self._pools = None

    def close(self) -> None:
        """Write the central directory and the end record (no comment)."""
        self.release()
        if self._closed:
            return
        out = self._stream
        cd_offset = out.tell()
        for e in self._entries:
            encoded = e.name.encode("ascii")
            out.write(
                CENTRAL_HEADER.pack(
                    CENTRAL_SIG,
                    VERSION,
                    VERSION,
                    0,
                    e.method,
                    DOS_TIME,
                    DOS_DATE,
                    e.crc32,
                    e.compressed_size,
                    e.size,
                    len(encoded),
                    0,
                    0,
                    0,
                    0,
                    0,
                    e.header_offset,
                )
            )
            out.write(encoded)
        cd_size = out.tell() - cd_offset
        n = len(self._entries)
        out.write(END_RECORD.pack(EOCD_SIG, 0, 0, n, n, cd_size, cd_offset, 0))
        if out.tell() > self._limits.max_total_size:
            raise UnsafeArchive("archive would need zip64 (over 4 GiB); refused")
        self._closed = True
