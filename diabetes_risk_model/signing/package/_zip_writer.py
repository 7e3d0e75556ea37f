"""The canonical zip writer: the one layout :mod:`._archive` accepts, written in one streaming pass per member.

Each member is read once, in :data:`~diabetes_risk_model.files.CHUNK_SIZE` chunks; each chunk is hashed
(SHA-256), CRC'd and written (deflated first for compressible members) before the next one is read.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
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
    """Chunks of *source* read into one reused buffer: each view is valid until the next one is drawn."""
    view = memoryview(bytearray(CHUNK_SIZE))
    while n := source.readinto(view):  # type: ignore[attr-defined]
        yield view[:n]


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

    def add_chunks(self, name: str, chunks: Iterable[Chunk], *, compress: bool = False) -> WrittenMember:
        """Write the concatenation of *chunks* as member *name* (each chunk is used before the next is drawn)."""
        check_name(name, max_length=self._limits.max_name_length)
        if name.lower() in self._names:
            raise UnsafeArchive("duplicate member name")
        if len(self._entries) >= self._limits.max_members:
            raise UnsafeArchive("too many members")
        out = self._stream
        offset = out.tell()
        encoded = name.encode("ascii")
        out.write(b"\0" * (LOCAL_HEADER.size + len(encoded)))
        crc, size, sha, stored, stored_sha = self._copy(name, chunks, compress)
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

    def _copy(
        self, name: str, chunks: Iterable[Chunk], compress: bool
    ) -> tuple[int, int, hashlib._Hash, int, hashlib._Hash]:
        """The one pass over a member: for each chunk, check the size, hash it, CRC it, (deflate it,) write it.

        Returns (CRC-32, size, SHA-256, stored size, SHA-256 of the stored bytes); a stored member's stored bytes
        are its bytes, hashed once.
        """
        sha = hashlib.sha256()
        stored_sha = hashlib.sha256() if compress else sha
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9) if compress else None
        crc = size = stored = 0
        for chunk in chunks:
            size += len(chunk)
            if size > self._limits.max_member_size:
                raise UnsafeArchive(f"member {name!r} is larger than the limit")
            sha.update(chunk)
            crc = zlib.crc32(chunk, crc)
            data = chunk if compressor is None else compressor.compress(chunk)
            if compressor is not None:
                stored_sha.update(data)
            self._stream.write(data)
            stored += len(data)
        if compressor is not None:
            tail = compressor.flush()
            stored_sha.update(tail)
            self._stream.write(tail)
            stored += len(tail)
        return crc, size, sha, stored, stored_sha

    def close(self) -> None:
        """Write the central directory and the end record (no comment)."""
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
