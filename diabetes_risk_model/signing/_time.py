"""Timestamps as every signed document of ours writes them: UTC, whole seconds, ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(moment: datetime) -> str:
    """UTC, second precision, ``Z`` suffix (e.g. ``2026-11-22T02:50:00Z``)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`; only that exact shape is accepted."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def now_utc() -> datetime:
    """Current time, whole seconds (the precision of signed timestamps)."""
    return datetime.now(UTC).replace(microsecond=0)
