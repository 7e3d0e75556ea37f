"""The pickle opcodes :mod:`._unpickler` dispatches unchanged or refuses outright, and two small helpers."""

from __future__ import annotations

import pickle
import re
from typing import Any

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

DATA_OPCODES: tuple[str, ...] = (
    "PROTO", "FRAME", "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1",
    "LONG4", "FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES",
    "BINBYTES8", "READONLY_BUFFER", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
    "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_LIST", "LIST", "EMPTY_DICT", "EMPTY_SET",
    "POP", "POP_MARK", "DUP", "GET", "BINGET", "LONG_BINGET", "GLOBAL", "STACK_GLOBAL",
)  # fmt: skip
"""Opcodes that only push data, pop, or import through ``find_class``: taken from ``pickle._Unpickler``."""

REFUSED_OPCODES: tuple[str, ...] = ("INST", "OBJ", "PERSID", "BINPERSID", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER")
"""Never emitted for this project's models: a class called with arguments, persistent ids, extension codes,
out-of-band buffers."""


def safe_text(text: Any) -> str:
    """Echo a pickle's module/name only if it is a plain dotted identifier of sane length."""
    return text if isinstance(text, str) and len(text) <= 100 and _DOTTED.fullmatch(text) else "<non-identifier>"


def opcode(name: str) -> int:
    return int(getattr(pickle, name)[0])
