"""Argument checks for the reviewed ``REDUCE`` callables of :data:`._policy.CALLABLES`.

Each check admits exactly the arguments the library's own ``__reduce__`` produces (types, and sizes bounded by
the bytes of the stream) and raises :class:`~diabetes_risk_model.errors.PickleRefused` otherwise, before the
call runs. *name_of* maps an object to the ``(module, name)`` it was imported as by this stream (``None`` if
it was not imported), so a check never trusts an object's own ``__module__``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from diabetes_risk_model.errors import PickleRefused
from diabetes_risk_model.unpickling._policy import REBUILT_CLASSES, Pair

NameOf = Callable[[Any], Pair | None]
Check = Callable[[tuple[Any, ...], NameOf], None]

_DTYPE_CODE = re.compile(r"[a-zA-Z]{1,2}[0-9]{0,2}")
_MAX_TREE_OUTPUTS = 1024
_MAX_TREE_CLASSES = 1_000_000
_MAX_FEATURES = 1_000_000


def _require(condition: bool, call: str) -> None:
    if not condition:
        raise PickleRefused(f"pickle calls {call} with arguments its own reduce never produces", call=call)


def _is_int(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _reconstruct(args: tuple[Any, ...], name_of: NameOf) -> None:
    _require(len(args) == 3 and name_of(args[0]) == ("numpy", "ndarray"), "numpy _reconstruct")
    _require(type(args[1]) is tuple and args[1] == (0,) and args[2] == b"b", "numpy _reconstruct")


def _plain_dtype(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.dtype) and not value.hasobject


def _scalar(args: tuple[Any, ...], name_of: NameOf) -> None:
    ok = len(args) == 2 and _plain_dtype(args[0]) and type(args[1]) is bytes
    _require(ok and len(args[1]) == args[0].itemsize, "numpy scalar")


def _frombuffer(args: tuple[Any, ...], name_of: NameOf) -> None:
    _require(len(args) == 4 and type(args[0]) in (bytes, bytearray) and _plain_dtype(args[1]), "numpy _frombuffer")
    shape, order = args[2], args[3]
    _require(type(shape) is tuple and all(_is_int(n, 0, len(args[0])) for n in shape), "numpy _frombuffer")
    _require(type(order) is str and order in ("C", "F"), "numpy _frombuffer")
    size = args[1].itemsize
    for n in shape:
        size *= n
    _require(size == len(args[0]), "numpy _frombuffer")


def _dtype(args: tuple[Any, ...], name_of: NameOf) -> None:
    # copy must be True: dtype("f8", False, False) is numpy's shared singleton, which BUILD would then mutate.
    ok = len(args) == 3 and type(args[0]) is str and _DTYPE_CODE.fullmatch(args[0]) is not None
    _require(ok and type(args[1]) is bool and args[2] is True, "numpy dtype")


def _randomstate_ctor(args: tuple[Any, ...], name_of: NameOf) -> None:
    ok = len(args) == 2 and args[0] == "MT19937" and type(args[0]) is str
    _require(ok and name_of(args[1]) == ("numpy.random._pickle", "__bit_generator_ctor"), "numpy __randomstate_ctor")


def _pyx_cy_half_binomial(args: tuple[Any, ...], name_of: NameOf) -> None:
    ok = len(args) == 3 and name_of(args[0]) == ("sklearn._loss._loss", "CyHalfBinomialLoss")
    ok = ok and type(args[1]) is int and type(args[2]) is tuple and not args[2]
    _require(ok, "__pyx_unpickle_CyHalfBinomialLoss")


def _hinge(args: tuple[Any, ...], name_of: NameOf) -> None:
    _require(len(args) == 1 and type(args[0]) is float, "sklearn Hinge")


def _newobj(expected: Pair) -> Check:
    def check(args: tuple[Any, ...], name_of: NameOf) -> None:
        _require(len(args) == 1 and name_of(args[0]) == expected, f"{expected[0]}.newObj")

    return check


def _tree(args: tuple[Any, ...], name_of: NameOf) -> None:
    import numpy as np

    _require(len(args) == 3 and _is_int(args[0], 0, _MAX_FEATURES), "sklearn Tree")
    n_classes, n_outputs = args[1], args[2]
    _require(_is_int(n_outputs, 1, _MAX_TREE_OUTPUTS) and type(n_classes) is np.ndarray, "sklearn Tree")
    _require(n_classes.ndim == 1 and n_classes.dtype.kind == "i" and n_classes.shape == (n_outputs,), "sklearn Tree")
    _require(bool(((n_classes >= 1) & (n_classes <= _MAX_TREE_CLASSES)).all()), "sklearn Tree")


def _defaultdict(args: tuple[Any, ...], name_of: NameOf) -> None:
    _require(len(args) == 1 and name_of(args[0]) == ("collections", "OrderedDict"), "collections.defaultdict")


def _set(args: tuple[Any, ...], name_of: NameOf) -> None:
    _require(len(args) == 1 and type(args[0]) is list and all(is_flat_key(k) for k in args[0]), "builtins.set")


def _codecs_encode(args: tuple[Any, ...], name_of: NameOf) -> None:
    ok = len(args) == 2 and type(args[0]) is str and type(args[1]) is str
    _require(ok and args[1] in ("latin1", "latin-1"), "_codecs.encode")


def _reconstructor(args: tuple[Any, ...], name_of: NameOf) -> None:
    ok = len(args) == 3 and name_of(args[0]) in REBUILT_CLASSES and args[1] is object and args[2] is None
    _require(ok and args[0].__new__ is object.__new__, "copyreg._reconstructor")


CHECKS: dict[Pair, Check] = {
    ("numpy", "dtype"): _dtype,
    ("sklearn.tree._tree", "Tree"): _tree,
    ("sklearn.linear_model._sgd_fast", "Hinge"): _hinge,
    ("collections", "defaultdict"): _defaultdict,
    ("builtins", "set"): _set,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("_codecs", "encode"): _codecs_encode,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy.random._pickle", "__randomstate_ctor"): _randomstate_ctor,
    ("sklearn._loss._loss", "__pyx_unpickle_CyHalfBinomialLoss"): _pyx_cy_half_binomial,
    ("sklearn.metrics._dist_metrics", "newObj"): _newobj(("sklearn.metrics._dist_metrics", "EuclideanDistance64")),
    ("sklearn.neighbors._kd_tree", "newObj"): _newobj(("sklearn.neighbors._kd_tree", "KDTree")),
}


_FLAT = (str, bool, bytes, type(None))
_MAX_KEY_INT = 2**31
_MAX_KEY_TUPLE = 8


def _flat_scalar(value: Any) -> bool:
    if type(value) in _FLAT:
        return True
    if type(value) is int:
        return -_MAX_KEY_INT <= value <= _MAX_KEY_INT
    import numpy as np  # LightGBM's _class_map is keyed by np.int8

    return isinstance(value, (np.integer, np.bool_)) and -_MAX_KEY_INT <= int(value) <= _MAX_KEY_INT


def is_flat_key(value: Any) -> bool:
    """A dict key or set item that hashes in O(1) without collisions an attacker can choose.

    A string, bytes, bool, None, an int (Python or numpy) within +-2**31 (these hash to themselves), or a
    tuple of up to 8 of those. Refused: floats and big ints (``hash(k * (2**61 - 1)) == 0`` for every k, so
    one dict insert would cost O(n) comparisons), nested or long tuples (not cached; tuples sharing memo
    references hash in time exponential in their depth). Hashing runs inside one opcode, where the time limit
    cannot interrupt it.
    """
    if _flat_scalar(value):
        return True
    return type(value) is tuple and len(value) <= _MAX_KEY_TUPLE and all(_flat_scalar(item) for item in value)
