"""diabetes_risk_model.files: the one atomic writer and the one file hash."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from diabetes_risk_model.files import CHUNK_SIZE, atomic_writer, sha256_file


def test_a_header_patch_after_a_seek_lands_and_the_content_is_whole(tmp_path: Path) -> None:
    block = bytes(range(256)) * 4096  # 1 MiB
    target = tmp_path / "out.bin"
    with atomic_writer(target) as out:
        out.write(b"\0" * 30)
        for _ in range(5):
            out.write(block)
        out.seek(0)  # a header patch, as the zip writer does
        out.write(b"H" * 30)
        out.seek(0, os.SEEK_END)
        out.write(block)
    data = target.read_bytes()
    assert data[:30] == b"H" * 30 and data[30:] == block * 6


@pytest.mark.parametrize(("mode", "fsync"), [(0o644, True), (0o600, False)])
def test_the_file_appears_only_at_the_end_with_its_mode(tmp_path: Path, mode: int, fsync: bool) -> None:
    target = tmp_path / "x"
    with atomic_writer(target, mode=mode, fsync=fsync) as out:
        out.write(b"y" * 100)
        assert not target.exists()
        (part,) = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
        assert stat.S_IMODE(part.stat().st_mode) == 0o600
    assert target.read_bytes() == b"y" * 100 and stat.S_IMODE(target.stat().st_mode) == mode


def test_a_failed_block_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "keep"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as out:
        out.write(b"new" * CHUNK_SIZE)
        raise RuntimeError("half-way")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, 3 * CHUNK_SIZE + 7])
def test_sha256_file_is_hashlib_over_the_whole_file(tmp_path: Path, size: int) -> None:
    data = hashlib.shake_256(b"files").digest(size) if size else b""
    path = tmp_path / "f"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
