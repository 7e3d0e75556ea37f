"""Canonical zip archives: one byte layout per content, and a strict reader that accepts only that layout.

Why not :mod:`zipfile` alone: zipfile is lenient by design (it tolerates prepended data, comments, extra
fields, data descriptors, local headers that disagree with the central directory, duplicate names), and
every tolerance is a place where two different files verify as "the same package". The writer here emits
exactly one layout — fixed timestamps (1980-01-01 00:00) and attributes, no extra fields, no comments, no
data descriptors, no zip64, ASCII names — and the reader refuses anything else with
:class:`~diabetes_risk_model.errors.UnsafeArchive` *before* any member is read. Together with the signed
manifest (which binds each member's sizes, CRC and digests) this means that changing any byte of a
package anywhere is refused. The files are still ordinary zips: ``unzip`` and :mod:`zipfile` read them.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from diabetes_risk_model.errors import DigestMismatch, UnsafeArchive, VerificationError
from diabetes_risk_model.signing.hashing import CHUNK_SIZE, sha256_range
from diabetes_risk_model.signing.limits import DEFAULT_LIMITS, Limits

STORED = 0
DEFLATED = 8
COMPRESSION_NAMES = {STORED: "stored", DEFLATED: "deflate"}
COMPRESSION_CODES = {name: code for code, name in COMPRESSION_NAMES.items()}

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<4sHHHHIIH")
_LOCAL_SIG = b"PK\x03\x04"
_CENTRAL_SIG = b"PK\x01\x02"
_EOCD_SIG = b"PK\x05\x06"
_VERSION = 20  # "2.0": deflate, no zip64, made by MS-DOS (so external attributes are plain 0)
_DOS_TIME = 0
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the zip epoch: no build time leaks into the bytes
_MAX_32 = 0xFFFFFFFF
_PARALLEL_MIN = 256 * 1024  # below this, a thread hand-off costs more than it saves

_SEGMENT = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._ -]*[A-Za-z0-9_-])?")


def check_name(
    name: str,
    limits: Limits = DEFAULT_LIMITS,
    *,
    portable: bool = True,
    error: type[VerificationError] = UnsafeArchive,
) -> None:
    """Refuse member (or OMS resource) names that could escape a directory or be read two ways.

    Always refused: empty or over-long names, absolute paths, backslashes, NUL and control characters,
    empty, ``.`` or ``..`` segments (so no directory names with a trailing ``/`` either).
    With ``portable=True`` (our packages) also: anything but ASCII segments of ``[A-Za-z0-9._ -]`` separated
    by ``/``, each starting with a letter, digit or ``_`` (no hidden files) and not ending in ``.`` or a
    space (pycaret saves plots as ``Confusion Matrix.png``). ``portable=False`` is for names other tools
    signed (OMS resources), which may be any file name a model directory holds.
    The message never repeats the name: it has not been accepted yet.
    """
    if not name or len(name) > limits.max_name_length:
        raise error("member name is empty or too long")
    parts = name.split("/")
    if "\\" in name or any(part in ("", ".", "..") for part in parts) or not name.isprintable():
        raise error("name is absolute, has '..', '.', empty segments, a backslash or control characters")
    if portable and not all(_SEGMENT.fullmatch(part) for part in parts):
        raise error("member name is not a safe relative ASCII path")


@dataclass(frozen=True)
class ZipEntry:
    """One member as recorded (identically) in its local header and the central directory."""

    name: str
    method: int
    crc32: int
    compressed_size: int
    size: int
    header_offset: int
    data_offset: int


@dataclass(frozen=True)
class WrittenMember:
    """What the writer measured while streaming one member (the manifest records all of it)."""

    name: str
    method: int
    size: int
    sha256: str
    compressed_size: int
    compressed_sha256: str
    crc32: int


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
        self._pool: ThreadPoolExecutor | None = None

    def add_stream(self, name: str, source: BinaryIO, *, compress: bool = False) -> WrittenMember:
        """Copy *source* (to its end) into the archive as member *name*."""
        return self.add_chunks(name, file_chunks(source), compress=compress)

    def add_chunks(self, name: str, chunks: Iterable[bytes | memoryview], *, compress: bool = False) -> WrittenMember:
        """Write the concatenation of *chunks* as member *name* (each chunk is used before the next is drawn)."""
        check_name(name, self._limits)
        if name.lower() in self._names:
            raise UnsafeArchive("duplicate member name")
        if len(self._entries) >= self._limits.max_members:
            raise UnsafeArchive("too many members")
        out = self._stream
        offset = out.tell()
        encoded = name.encode("ascii")
        out.write(b"\0" * (_LOCAL.size + len(encoded)))
        sha = hashlib.sha256()
        stored_sha = hashlib.sha256()
        crc = 0
        size = 0
        stored = 0
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9) if compress else None
        for chunk in chunks:  # one pass: digest (in parallel, see _digest), CRC, (compress,) write
            with self._digest(sha, chunk):
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                if size > self._limits.max_member_size:
                    raise UnsafeArchive(f"member {name!r} is larger than the limit")
                if compressor is None:
                    out.write(chunk)
                    continue
                data = compressor.compress(chunk)
                if data:
                    stored_sha.update(data)
                    out.write(data)
                    stored += len(data)
        if compressor:
            tail = compressor.flush()
            stored_sha.update(tail)
            out.write(tail)
            stored += len(tail)
        else:
            stored, stored_sha = size, sha  # stored bytes are the uncompressed bytes: hashed once
        end = out.tell()
        if end > self._limits.max_total_size or size > _MAX_32:
            raise UnsafeArchive("archive would need zip64 (over 4 GiB); refused")
        method = DEFLATED if compress else STORED
        out.seek(offset)
        header = (_LOCAL_SIG, _VERSION, 0, method, _DOS_TIME, _DOS_DATE, crc, stored, size, len(encoded), 0)
        out.write(_LOCAL.pack(*header))
        out.write(encoded)
        out.seek(end)
        entry = ZipEntry(name, method, crc, stored, size, offset, offset + _LOCAL.size + len(encoded))
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

    @contextmanager
    def _digest(self, sha: hashlib._Hash, chunk: bytes | memoryview) -> Iterator[None]:
        """Hash *chunk* on a helper thread while the block runs (CRC and write), and wait for it at the end.

        hashlib and zlib release the GIL on large buffers, so on two cores a 1 GiB member costs about
        max(SHA-256, CRC-32 + write) instead of their sum. The chunk is not reused before the hash is done
        (the wait is in ``finally``), which keeps :func:`file_chunks`' one reusable buffer safe.
        """
        if len(chunk) < _PARALLEL_MIN:
            sha.update(chunk)
            yield
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        pending = self._pool.submit(sha.update, chunk)
        try:
            yield
        finally:
            pending.result()

    def release(self) -> None:
        """Stop the hashing thread (``close`` does it; call it when giving up on a half-written archive)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

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
                _CENTRAL.pack(
                    _CENTRAL_SIG,
                    _VERSION,
                    _VERSION,
                    0,
                    e.method,
                    _DOS_TIME,
                    _DOS_DATE,
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
        out.write(_EOCD.pack(_EOCD_SIG, 0, 0, n, n, cd_size, cd_offset, 0))
        if out.tell() > self._limits.max_total_size:
            raise UnsafeArchive("archive would need zip64 (over 4 GiB); refused")
        self._closed = True


def _read_exact(stream: BinaryIO, offset: int, length: int) -> bytes:
    stream.seek(offset)
    data = stream.read(length)
    if len(data) != length:
        raise UnsafeArchive("archive is truncated")
    return data


def read_directory(stream: BinaryIO, file_size: int, limits: Limits = DEFAULT_LIMITS) -> list[ZipEntry]:
    """Parse a canonical archive's structure; raise :class:`UnsafeArchive` on any deviation.

    Checks, without reading member data: the end record is exactly at the end of the file (no comment,
    nothing appended), the central directory sits right before it and right after the last member, members
    start at offset 0 and are contiguous (nothing prepended or hidden between them), every field of every
    local header equals its central record and the canonical constants, names are safe and unique
    (case-insensitively), and sizes respect *limits* including the compression ratio (zip bombs).
    """
    if file_size < _EOCD.size:
        raise UnsafeArchive("file is too small to be a zip archive")
    if file_size > limits.max_total_size:
        raise UnsafeArchive("archive is larger than the limit")
    sig, disk, cd_disk, n_disk, n_total, cd_size, cd_offset, comment_len = _EOCD.unpack(
        _read_exact(stream, file_size - _EOCD.size, _EOCD.size)
    )
    if sig != _EOCD_SIG or comment_len != 0:
        raise UnsafeArchive("no canonical end-of-central-directory record at the end of the file")
    if disk != 0 or cd_disk != 0 or n_disk != n_total:
        raise UnsafeArchive("multi-disk archives are not supported")
    if n_total == 0 or n_total > limits.max_members:
        raise UnsafeArchive("member count is zero or over the limit")
    if cd_offset + cd_size != file_size - _EOCD.size:
        raise UnsafeArchive("central directory is not immediately before the end record")
    if cd_size > n_total * (_CENTRAL.size + limits.max_name_length):
        raise UnsafeArchive("central directory is larger than its members need")
    directory = _read_exact(stream, cd_offset, cd_size)
    entries: list[ZipEntry] = []
    seen: set[str] = set()
    pos = 0
    expected_offset = 0
    total = 0
    for _ in range(n_total):
        if pos + _CENTRAL.size > cd_size:
            raise UnsafeArchive("central directory is truncated")
        (
            sig,
            made_by,
            needed,
            flags,
            method,
            mtime,
            mdate,
            crc,
            csize,
            usize,
            name_len,
            extra_len,
            comment_len,
            disk_start,
            internal,
            external,
            offset,
        ) = _CENTRAL.unpack_from(directory, pos)
        pos += _CENTRAL.size
        if sig != _CENTRAL_SIG:
            raise UnsafeArchive("central directory record has a bad signature")
        if (made_by, needed, flags, mtime, mdate, extra_len, comment_len, disk_start, internal, external) != (
            _VERSION,
            _VERSION,
            0,
            _DOS_TIME,
            _DOS_DATE,
            0,
            0,
            0,
            0,
            0,
        ):
            raise UnsafeArchive("central directory record is not canonical")
        if method not in COMPRESSION_NAMES or (method == STORED and csize != usize):
            raise UnsafeArchive("unsupported or inconsistent compression method")
        raw_name = directory[pos : pos + name_len]
        pos += name_len
        if len(raw_name) != name_len:
            raise UnsafeArchive("central directory is truncated")
        try:
            name = raw_name.decode("ascii")
        except UnicodeDecodeError:
            raise UnsafeArchive("member name is not ASCII") from None
        check_name(name, limits)
        if name.lower() in seen:
            raise UnsafeArchive("duplicate member name")
        seen.add(name.lower())
        if offset != expected_offset:
            raise UnsafeArchive("members are not contiguous from the start of the file")
        local = _read_exact(stream, offset, _LOCAL.size + name_len)
        if (
            _LOCAL.unpack_from(local)
            != (_LOCAL_SIG, _VERSION, 0, method, _DOS_TIME, _DOS_DATE, crc, csize, usize, name_len, 0)
            or local[_LOCAL.size :] != raw_name
        ):
            raise UnsafeArchive("local header does not match the central directory")
        if usize > limits.max_member_size:
            raise UnsafeArchive(f"member {name!r} is larger than the limit")
        if method == DEFLATED and usize > max(csize * limits.max_compression_ratio, limits.ratio_floor):
            raise UnsafeArchive(f"member {name!r} exceeds the compression ratio limit (zip bomb?)")
        total += usize
        if total > limits.max_total_size:
            raise UnsafeArchive("members are larger in total than the limit")
        data_offset = offset + _LOCAL.size + name_len
        expected_offset = data_offset + csize
        entries.append(ZipEntry(name, method, crc, csize, usize, offset, data_offset))
    if pos != cd_size:
        raise UnsafeArchive("central directory has trailing bytes")
    if expected_offset != cd_offset:
        raise UnsafeArchive("data between the last member and the central directory")
    return entries


@dataclass(frozen=True)
class MemberHash:
    """Digests measured while streaming one member's stored and uncompressed bytes."""

    size: int
    sha256: str
    compressed_size: int
    compressed_sha256: str


def hash_member(stream: BinaryIO, entry: ZipEntry, sink: memoryview | None = None) -> MemberHash:
    """Stream one member once, hashing its stored bytes and (if deflated) its inflated bytes.

    A stored member is hashed once (its stored and uncompressed digests are the same bytes). A deflated
    member is inflated in bounded steps: output beyond the declared size stops the stream (zip bomb), and
    corrupt deflate data is reported as :class:`DigestMismatch` for that member. With *sink* the
    uncompressed bytes are also written into it (exactly ``entry.size`` bytes) — the single in-memory copy
    that is later unpickled.
    """
    stream.seek(entry.data_offset)
    if entry.method == STORED:
        digest, got = sha256_range(stream, entry.compressed_size, sink)
        if got != entry.compressed_size:
            raise UnsafeArchive("archive is truncated")
        return MemberHash(got, digest, got, digest)
    return _inflate_and_hash(stream, entry, sink)


def _inflate_and_hash(stream: BinaryIO, entry: ZipEntry, sink: memoryview | None) -> MemberHash:
    stored_sha = hashlib.sha256()
    sha = hashlib.sha256()
    inflater = zlib.decompressobj(-15)
    remaining = entry.compressed_size
    produced = 0
    limit = entry.size + 1  # one byte past the declared size is enough to know it lied
    try:
        while remaining:
            chunk = stream.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                raise UnsafeArchive("archive is truncated")
            remaining -= len(chunk)
            stored_sha.update(chunk)
            for piece in _inflate(inflater, chunk, limit - produced):
                produced = _accept(piece, produced, entry, sha, sink)
        if not inflater.eof or inflater.unused_data:
            raise DigestMismatch(entry.name, "compressed data")
        tail = inflater.flush()
        produced = _accept(tail, produced, entry, sha, sink)
    except zlib.error:
        raise DigestMismatch(entry.name, "compressed data") from None
    return MemberHash(produced, sha.hexdigest(), entry.compressed_size, stored_sha.hexdigest())


def _inflate(inflater: zlib._Decompress, chunk: bytes, budget: int) -> Iterator[bytes]:
    data = chunk
    while True:
        piece = inflater.decompress(data, max(1, min(CHUNK_SIZE, budget)))
        yield piece
        budget -= len(piece)
        data = inflater.unconsumed_tail
        if not data:
            return


def _accept(piece: bytes, produced: int, entry: ZipEntry, sha: hashlib._Hash, sink: memoryview | None) -> int:
    end = produced + len(piece)
    if end > entry.size:
        raise DigestMismatch(entry.name, "size")
    sha.update(piece)
    if sink is not None:
        sink[produced:end] = piece
    return end


def file_chunks(source: BinaryIO) -> Iterator[memoryview]:
    """Chunks of *source* in one reusable buffer (each view is valid until the next is drawn)."""
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    while n := source.readinto(view):  # type: ignore[attr-defined]
        yield view[:n]


def member_chunks(stream: BinaryIO, entry: ZipEntry) -> Iterator[bytes | memoryview]:
    """Uncompressed bytes of one member in bounded chunks (used to copy members when re-signing)."""
    remaining = entry.compressed_size
    offset = entry.data_offset
    inflater = zlib.decompressobj(-15) if entry.method == DEFLATED else None
    produced = 0
    try:
        while remaining:
            stream.seek(offset)
            chunk = stream.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                raise UnsafeArchive("archive is truncated")
            offset += len(chunk)
            remaining -= len(chunk)
            if inflater is None:
                yield chunk
                continue
            for piece in _inflate(inflater, chunk, entry.size + 1 - produced):
                produced += len(piece)
                if produced > entry.size:
                    raise DigestMismatch(entry.name, "size")
                yield piece
    except zlib.error:
        raise DigestMismatch(entry.name, "compressed data") from None
