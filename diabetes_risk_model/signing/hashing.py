"""Streaming digests: hash a file or a zip member in fixed chunks, never the whole artifact at once.

Why a module of its own: hashing is the only part of verification whose cost grows with the model, so it
is kept small, allocation-free in the loop (one reusable 1 MiB buffer, ``readinto`` + ``memoryview``) and
easy to benchmark against plain :func:`hashlib.sha256` (see ``benchmarks/bench_verify.py``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from diabetes_risk_model.files import CHUNK_SIZE  # re-exported: the one streaming step


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


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a whole file, streamed in :data:`CHUNK_SIZE` steps (e.g. to pin the training data)."""
    with open(path, "rb") as stream:
        return sha256_range(stream, os.fstat(stream.fileno()).st_size)[0]
