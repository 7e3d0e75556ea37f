"""The canonical zip writer: one serial pass per member (read, hash, CRC, write).

The archive is a function of the bytes only (not of how they are chunked), zipfile reads it, a failed write
surfaces as the caller's exception, and the size limit stops a member before its oversized chunk is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
import zlib

import pytest

from diabetes_risk_model.errors import UnsafeArchive
from diabetes_risk_model.files import CHUNK_SIZE
from diabetes_risk_model.signing.package._archive import read_directory
from diabetes_risk_model.signing.package._limits import DEFAULT_LIMITS
from diabetes_risk_model.signing.package._zip_writer import CanonicalZipWriter, file_chunks

DATA = hashlib.shake_256(b"zip-writer").digest(3 * CHUNK_SIZE + 12345)  # several chunks and a short tail


def _write(chunks_of: object) -> tuple[bytes, object]:
    out = io.BytesIO()
    writer = CanonicalZipWriter(out)
    member = writer.add_chunks("model.pkl", chunks_of)  # type: ignore[arg-type]
    writer.add_chunks("meta.json", [b'{"a": 1}'], compress=True)
    writer.close()
    return out.getvalue(), member


def test_the_archive_does_not_depend_on_the_chunking() -> None:
    whole, member = _write(file_chunks(io.BytesIO(DATA)))
    small, _ = _write(iter([DATA[i : i + 4096] for i in range(0, len(DATA), 4096)]))
    assert whole == small
    assert member.sha256 == hashlib.sha256(DATA).hexdigest()  # type: ignore[attr-defined]
    assert member.crc32 == zlib.crc32(DATA)  # type: ignore[attr-defined]
    with zipfile.ZipFile(io.BytesIO(whole)) as archive:
        assert archive.read("model.pkl") == DATA and archive.testzip() is None
    stream = io.BytesIO(whole)
    assert [e.name for e in read_directory(stream, len(whole))] == ["model.pkl", "meta.json"]


def test_file_chunks_reads_the_whole_source_in_chunk_size_steps() -> None:
    sizes = []
    copied = bytearray()
    for chunk in file_chunks(io.BytesIO(DATA)):
        sizes.append(len(chunk))
        copied += chunk
    assert bytes(copied) == DATA and sizes == [CHUNK_SIZE] * 3 + [12345]


class _FailingStream(io.BytesIO):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after

    def write(self, data: object) -> int:
        if self.tell() > self.fail_after:
            raise OSError(28, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


def test_a_write_error_reaches_the_caller() -> None:
    writer = CanonicalZipWriter(_FailingStream(fail_after=CHUNK_SIZE + 1))
    with pytest.raises(OSError, match="No space left"):
        writer.add_chunks("model.pkl", file_chunks(io.BytesIO(DATA)))


def test_the_size_limit_stops_a_member_before_its_oversized_chunk_is_written() -> None:
    limits = dataclasses.replace(DEFAULT_LIMITS, max_member_size=2 * CHUNK_SIZE)
    out = io.BytesIO()
    writer = CanonicalZipWriter(out, limits)
    with pytest.raises(UnsafeArchive, match="larger than the limit"):
        writer.add_chunks("model.pkl", file_chunks(io.BytesIO(DATA)))
    assert len(out.getvalue()) <= 2 * CHUNK_SIZE + 64, "nothing past the limit was written"
