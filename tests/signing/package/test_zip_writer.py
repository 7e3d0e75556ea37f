"""The canonical zip writer's pipeline: hash and write on helper threads, CRC here, next chunk read meanwhile.

Whatever the threads do, the archive must be the same bytes as one written serially, a failed write must
surface as the caller's exception with no helper thread left behind, and the size limit must stop a member
before its oversized chunk is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import threading
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


def test_pipelined_archive_equals_the_serial_one() -> None:
    pipelined, member = _write(file_chunks(io.BytesIO(DATA)))
    small = [DATA[i : i + 4096] for i in range(0, len(DATA), 4096)]  # below the hand-off size: all inline
    serial, _ = _write(iter(small))
    assert pipelined == serial
    assert member.sha256 == hashlib.sha256(DATA).hexdigest()  # type: ignore[attr-defined]
    assert member.crc32 == zlib.crc32(DATA)  # type: ignore[attr-defined]
    with zipfile.ZipFile(io.BytesIO(pipelined)) as archive:
        assert archive.read("model.pkl") == DATA and archive.testzip() is None
    stream = io.BytesIO(pipelined)
    assert [e.name for e in read_directory(stream, len(pipelined))] == ["model.pkl", "meta.json"]


def test_file_chunks_keeps_a_chunk_until_the_next_but_one() -> None:
    chunks = file_chunks(io.BytesIO(DATA))
    first = next(chunks)
    kept = bytes(first)
    second = next(chunks)
    assert bytes(first) == kept, "drawing the next chunk must not overwrite the one still in use"
    assert bytes(second) == DATA[CHUNK_SIZE : 2 * CHUNK_SIZE]


class _FailingStream(io.BytesIO):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after

    def write(self, data: object) -> int:
        if self.tell() > self.fail_after:
            raise OSError(28, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


def test_a_write_error_on_the_helper_thread_reaches_the_caller_and_no_thread_is_left() -> None:
    before = {t.name for t in threading.enumerate()}
    writer = CanonicalZipWriter(_FailingStream(fail_after=CHUNK_SIZE + 1))
    with pytest.raises(OSError, match="No space left"):
        writer.add_stream("model.pkl", io.BytesIO(DATA))
    writer.release()
    left = {t.name for t in threading.enumerate()} - before
    assert not [name for name in left if name.startswith(("sha256", "zip-write"))]


def test_the_size_limit_stops_a_member_before_its_oversized_chunk_is_written() -> None:
    limits = dataclasses.replace(DEFAULT_LIMITS, max_member_size=2 * CHUNK_SIZE)
    out = io.BytesIO()
    writer = CanonicalZipWriter(out, limits)
    with pytest.raises(UnsafeArchive, match="larger than the limit"):
        writer.add_stream("model.pkl", io.BytesIO(DATA))
    writer.release()
    assert len(out.getvalue()) <= 2 * CHUNK_SIZE + 64, "nothing past the limit was written"


def test_a_failed_hash_still_waits_for_the_write_of_the_same_chunk() -> None:
    """Whichever helper fails, the other has finished before the error reaches the caller (no write in flight)."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from diabetes_risk_model.signing.package._zip_writer import _Pipeline

    written: list[int] = []

    def update(chunk: object) -> None:
        raise RuntimeError("hash failed")

    def write(chunk: bytes) -> None:
        time.sleep(0.2)
        written.append(len(chunk))

    with ThreadPoolExecutor(1) as hasher, ThreadPoolExecutor(1) as writer:
        pipeline = _Pipeline(hasher, writer)
        pipeline.start(update, write, b"x" * CHUNK_SIZE)
        with pytest.raises(RuntimeError, match="hash failed"):
            pipeline.wait()
        assert written == [CHUNK_SIZE]
