"""The restricted unpickler subclasses CPython's private pure-Python ``pickle._Unpickler``. These tests fail
loudly if a Python release changes what it relies on, and check the dispatch table is default-deny."""

from __future__ import annotations

import inspect
import pickle
import pickletools

import pytest

from diabetes_risk_model.errors import PickleRefused
from diabetes_risk_model.unpickling import restricted_loads
from diabetes_risk_model.unpickling._unpickler import (
    DATA_OPCODES,
    REFUSED_OPCODES,
    RestrictedUnpickler,
)

OVERRIDDEN = {
    "REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD", "APPEND", "APPENDS", "SETITEM", "SETITEMS", "DICT", "ADDITEMS",
    "FROZENSET", "MARK", "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "PERSID", "BINPERSID", "STOP", "BYTEARRAY8",
}  # fmt: skip


def test_private_pickle_names_still_exist() -> None:
    pure = getattr(pickle, "_Unpickler")  # noqa: B009
    assert isinstance(pure.dispatch, dict)
    unframer = getattr(pickle, "_Unframer")  # noqa: B009
    assert {"read", "readinto", "readline", "current_frame"} <= set(dir(unframer(None, None)))
    params = list(inspect.signature(pure.__init__).parameters)
    assert params[:2] == ["self", "file"]
    instance = pure(__import__("io").BytesIO(b"."))
    for attribute in ("_file_read", "_file_readline", "memo", "proto", "encoding"):
        assert hasattr(instance, attribute), attribute
    for method in ("load_append", "load_appends", "load_setitem", "load_setitems", "load_dict", "load_additems",
                   "load_frozenset", "load_mark", "load_put", "load_binput", "load_long_binput", "load_memoize",
                   "pop_mark"):  # fmt: skip
        assert callable(getattr(pure, method)), method


def test_every_opcode_python_knows_is_classified() -> None:
    """A new opcode in a future protocol fails here instead of being silently refused or admitted."""
    known = {op.name for op in pickletools.opcodes}
    classified = set(DATA_OPCODES) | set(REFUSED_OPCODES) | OVERRIDDEN
    assert known == classified
    assert len(getattr(pickle, "_Unpickler").dispatch) == len(known)  # noqa: B009


def test_dispatch_is_default_deny() -> None:
    allowed = {pickletools.code2op[chr(code)].name for code in RestrictedUnpickler.dispatch}
    assert allowed == set(DATA_OPCODES) | (OVERRIDDEN - {"STOP"})  # STOP is handled by load() itself
    for name in REFUSED_OPCODES:
        assert getattr(pickle, name)[0] not in RestrictedUnpickler.dispatch or name in ("PERSID", "BINPERSID")


@pytest.mark.parametrize("name", ["INST", "OBJ", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER"])
def test_refused_opcodes(name: str) -> None:
    payload = b"\x80\x05(" + getattr(pickle, name) + b"\x01\x00\x00\x00."
    with pytest.raises(PickleRefused, match="opcode"):
        restricted_loads(payload)
