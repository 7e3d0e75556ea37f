"""A read-only file over a memoryview, so the verified buffer is unpickled without a copy."""

from __future__ import annotations

from typing import Any


class ViewReader:
    """Minimal ``read``/``readinto``/``readline`` over *view*; every read is bounded by what the view holds."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        data = self._view[self._pos : end].tobytes()
        self._pos = end
        return data

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        n = min(len(target), len(self._view) - self._pos)
        target[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def readline(self, size: int = -1) -> bytes:
        stop = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        end = self._pos
        while end < stop:
            chunk = self._view[end : min(stop, end + 4096)].tobytes()
            newline = chunk.find(b"\n")
            if newline >= 0:
                end += newline + 1
                break
            end += len(chunk)
        return self.read(end - self._pos)
