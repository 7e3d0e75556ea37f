"""diabetes_risk_model.files: the one atomic writer, with writeback started while it writes."""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import pytest

from diabetes_risk_model import files
from diabetes_risk_model.files import WRITEBACK_STEP, atomic_writer


def test_sync_file_range_is_found_on_linux(tmp_path: Path) -> None:
    """The ctypes lookup of libc's sync_file_range must not silently fall back on the platform we ship for."""
    assert sys.platform.startswith("linux"), "the suite, CI and the image are Linux"
    start = files._load_sync_file_range()
    assert start is not None
    path = tmp_path / "f"
    path.write_bytes(b"x" * 8192)
    fd = os.open(path, os.O_RDWR)
    try:
        start(fd, 0, 8192)  # a real call: a wrong signature would crash or raise here
    finally:
        os.close(fd)


def test_writeback_is_started_in_steps_and_the_content_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(files, "_load_sync_file_range", lambda: lambda fd, off, n: calls.append((off, n)))
    block = bytes(range(256)) * 4096  # 1 MiB
    target = tmp_path / "out.bin"
    with atomic_writer(target) as out:
        out.write(b"\0" * 30)
        for _ in range(20):
            out.write(block)
        out.seek(0)  # a header patch, as the zip writer does
        out.write(b"H" * 30)
        out.seek(0, os.SEEK_END)
        out.write(block)
    data = target.read_bytes()
    assert data[:30] == b"H" * 30 and data[30:] == block * 21
    assert calls, "no writeback was started for 21 MiB"
    assert all(n >= WRITEBACK_STEP for _, n in calls)
    assert [off for off, _ in calls] == sorted({off for off, _ in calls}), "ranges go forward"
    for (off, n), (next_off, _) in itertools.pairwise(calls):
        assert next_off == off + n, "consecutive ranges, none skipped"


def test_no_writeback_without_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(files, "_load_sync_file_range", lambda: lambda fd, off, n: calls.append(n))
    with atomic_writer(tmp_path / "x", fsync=False) as out:
        out.write(b"y" * (2 * WRITEBACK_STEP))
    assert calls == [] and (tmp_path / "x").stat().st_size == 2 * WRITEBACK_STEP


def test_a_failed_block_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "keep"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as out:
        out.write(b"new" * WRITEBACK_STEP)
        raise RuntimeError("half-way")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]
