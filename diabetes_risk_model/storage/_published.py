"""The one line every publisher prints, and what it carries: ``published <object> sequence=<n> sha256=<hex>``.

Those two values are what a pinned deployment needs (``MODEL_MIN_SEQUENCE``, ``MODEL_PACKAGE_SHA256``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PackagePin:
    """What a deployment pins a package by: its sequence number and the SHA-256 of the whole file.

    ``sequence`` is read from the verified manifest; ``None`` when the package was not verified (no keyring).
    """

    sequence: int | None
    sha256: str


def published_line(object_name: str, pin: PackagePin) -> str:
    """``published <object> sequence=<n> sha256=<hex>`` (``sequence=unverified`` when the sequence is unknown)."""
    sequence = "unverified" if pin.sequence is None else str(pin.sequence)
    return f"published {object_name} sequence={sequence} sha256={pin.sha256}"
