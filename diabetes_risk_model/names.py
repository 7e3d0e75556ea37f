"""The one validator for names that end up as paths: zip members, OMS resources, store objects.

A name is a relative POSIX path. Always refused: an empty or over-long name, an absolute path, a backslash,
NUL or any other control character, and empty, ``.`` or ``..`` segments (so no directory names with a
trailing ``/`` either). With ``portable=True`` (our packages) also anything but ASCII segments of
``[A-Za-z0-9._ -]`` separated by ``/``, each starting with a letter, digit or ``_`` (no hidden files) and not
ending in ``.`` or a space (pycaret saves plots as ``Confusion Matrix.png``). ``portable=False`` is for names
other tools chose (OMS resources, store objects), which may be any file name.

The error message never repeats the name: it has not been accepted yet.
"""

from __future__ import annotations

import re

from diabetes_risk_model.errors import DiabetesRiskModelError, UnsafeArchive

MAX_NAME_LENGTH = 200

_SEGMENT = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._ -]*[A-Za-z0-9_-])?")


def check_name(
    name: str,
    *,
    max_length: int = MAX_NAME_LENGTH,
    portable: bool = True,
    error: type[DiabetesRiskModelError] = UnsafeArchive,
) -> None:
    """Raise *error* unless *name* is a safe relative path (see the module docstring)."""
    if not name or len(name) > max_length:
        raise error("member name is empty or too long")
    parts = name.split("/")
    if "\\" in name or any(part in ("", ".", "..") for part in parts) or not name.isprintable():
        raise error("name is absolute, has '..', '.', empty segments, a backslash or control characters")
    if portable and not all(_SEGMENT.fullmatch(part) for part in parts):
        raise error("member name is not a safe relative ASCII path")
