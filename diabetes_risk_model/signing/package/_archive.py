"""Canonical zip archives: one byte layout per content, and a strict reader that accepts only that layout.

Why not :mod:`zipfile` alone: zipfile is lenient by design (it tolerates prepended data, comments, extra
fields, data descriptors, local headers that disagree with the central directory, duplicate names), and
every tolerance is a place where two different files verify as "the same package". The writer
(:mod:`.zip_writer`) emits
exactly one layout — fixed timestamps (1980-01-01 00:00) and attributes, no extra fields, no comments, no
data descriptors, no zip64, ASCII names — and the reader refuses anything else with
:class:`~diabetes_risk_model.errors.UnsafeArchive` *before* any member is read. Together with the signed
manifest (which binds each member's sizes, CRC and digests) this means that changing any byte of a
package anywhere is refused. The files are still ordinary zips: ``unzip`` and :mod:`zipfile` read them.
This module holds the layout (shared with the writer) and the reader.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from diabetes_risk_model.errors import DigestMismatch, UnsafeArchive
from diabetes_risk_model.files import CHUNK_SIZE
from diabetes_risk_model.names import check_name
from diabetes_risk_model.signing.package._limits import DEFAULT_LIMITS, Limits

STORED = 0
DEFLATED = 8
COMPRESSION_NAMES = {STORED: "stored", DEFLATED: "deflate"}
COMPRESSION_CODES = {name: code for code, name in COMPRESSION_NAMES.items()}

LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
CENTRAL_HEADER = struct.Struct("<4sHHHHHHIIIHHHHHII")
END_RECORD = struct.Struct("<4sHHHHIIH")
LOCAL_SIG = b"PK\x03\x04"
CENTRAL_SIG = b"PK\x01\x02"
EOCD_SIG = b"PK\x05\x06"
VERSION = 20  # "2.0": deflate, no zip64, made by MS-DOS (so external attributes are plain 0)
DOS_TIME = 0
DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the zip epoch: no build time leaks into the bytes
MAX_32 = 0xFFFFFFFF


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
    if file_size < END_RECORD.size:
        raise UnsafeArchive("file is too small to be a zip archive")
    if file_size > limits.max_total_size:
        raise UnsafeArchive("archive is larger than the limit")
    sig, disk, cd_disk, n_disk, n_total, cd_size, cd_offset, comment_len = END_RECORD.unpack(
        _read_exact(stream, file_size - END_RECORD.size, END_RECORD.size)
    )
    if sig != EOCD_SIG or comment_len != 0:
        raise UnsafeArchive("no canonical end-of-central-directory record at the end of the file")
    if disk != 0 or cd_disk != 0 or n_disk != n_total:
        raise UnsafeArchive("multi-disk archives are not supported")
    if n_total == 0 or n_total > limits.max_members:
        raise UnsafeArchive("member count is zero or over the limit")
    if cd_offset + cd_size != file_size - END_RECORD.size:
        raise UnsafeArchive("central directory is not immediately before the end record")
    if cd_size > n_total * (CENTRAL_HEADER.size + limits.max_name_length):
        raise UnsafeArchive("central directory is larger than its members need")
    directory = _read_exact(stream, cd_offset, cd_size)
    entries: list[ZipEntry] = []
    seen: set[str] = set()
    pos = 0
    expected_offset = 0
    total = 0
    for _ in range(n_total):
        if pos + CENTRAL_HEADER.size > cd_size:
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
        ) = CENTRAL_HEADER.unpack_from(directory, pos)
        pos += CENTRAL_HEADER.size
        if sig != CENTRAL_SIG:
            raise UnsafeArchive("central directory record has a bad signature")
        if (made_by, needed, flags, mtime, mdate, extra_len, comment_len, disk_start, internal, external) != (
            VERSION,
            VERSION,
            0,
            DOS_TIME,
            DOS_DATE,
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
        check_name(name, max_length=limits.max_name_length)
        if name.lower() in seen:
            raise UnsafeArchive("duplicate member name")
        seen.add(name.lower())
        if offset != expected_offset:
            raise UnsafeArchive("members are not contiguous from the start of the file")
        local = _read_exact(stream, offset, LOCAL_HEADER.size + name_len)
        if (
            LOCAL_HEADER.unpack_from(local)
            != (LOCAL_SIG, VERSION, 0, method, DOS_TIME, DOS_DATE, crc, csize, usize, name_len, 0)
            or local[LOCAL_HEADER.size :] != raw_name
        ):
            raise UnsafeArchive("local header does not match the central directory")
        if usize > limits.max_member_size:
            raise UnsafeArchive(f"member {name!r} is larger than the limit")
        if method == DEFLATED and usize > max(csize * limits.max_compression_ratio, limits.ratio_floor):
            raise UnsafeArchive(f"member {name!r} exceeds the compression ratio limit (zip bomb?)")
        total += usize
        if total > limits.max_total_size:
            raise UnsafeArchive("members are larger in total than the limit")
        data_offset = offset + LOCAL_HEADER.size + name_len
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


def sha256_range(stream: BinaryIO, length: int, sink: memoryview | None = None) -> tuple[str, int]:
    """SHA-256 of the next *length* bytes of *stream*; returns (hex digest, bytes actually read).

    With *sink* (a writable buffer of exactly *length* bytes) the bytes are read straight into it and hashed
    from there: the caller then holds the one and only copy of the bytes that were hashed, which is how the
    verifier captures the pickle during the hashing pass without a second read of the file.
    """
    sha = hashlib.sha256()
    done = 0
    if sink is not None:
        while done < length:
            n = stream.readinto(sink[done : min(length, done + CHUNK_SIZE)])  # type: ignore[attr-defined]
            if not n:
                break
            sha.update(sink[done : done + n])
            done += n
        return sha.hexdigest(), done
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    while done < length:
        n = stream.readinto(view[: min(CHUNK_SIZE, length - done)])  # type: ignore[attr-defined]
        if not n:
            break
        sha.update(view[:n])
        done += n
    return sha.hexdigest(), done


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
