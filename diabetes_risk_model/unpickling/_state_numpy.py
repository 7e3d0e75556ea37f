"""Validate numpy array and dtype state before numpy's C code applies it, and every array after loading.

* ``ndarray.__setstate__`` (protocols 0-4: an empty array from ``_reconstruct`` then ``BUILD``) takes
  ``(1, shape, dtype, is_fortran, data)``. Admitted: a shape of at most 32 non-negative ints, a plain dtype with
  ``bytes`` data of exactly ``prod(shape) * itemsize`` bytes, or the object dtype with a list of exactly
  ``prod(shape)`` items; the size is computed in Python integers (no overflow) and checked against the cap
  before numpy allocates anything.
* ``dtype.__setstate__`` takes ``(3, byteorder, subarray, names, fields, itemsize, alignment, flags)``.
  Admitted: no subarray, named fields (if any) of plain dtypes that fit inside the item without overlapping,
  and otherwise exactly the tuple numpy writes for the dtype so described (so flags, alignment and size
  agree with the fields). A field layout outside the item, or object flags on plain bytes, is what makes
  numpy read outside an array's buffer or follow pointers the pickle chose.
* After loading, every array satisfies ``itemsize * size == nbytes`` (:func:`check_array_sizes`).
"""

from __future__ import annotations

from typing import Any

from diabetes_risk_model.errors import UnsafeModelState

_MAX_NDIM = 32
_BYTE_ORDERS = frozenset({"<", ">", "|", "="})
_MAX_FIELDS = 64


def _require(condition: Any, path: str, rule: str) -> None:
    if not condition:
        raise UnsafeModelState(path, rule)


def array_bytes(shape: Any, itemsize: int, where: str) -> int:
    """``prod(shape) * itemsize`` in Python integers, after checking *shape* is a tuple of non-negative ints."""
    ok = type(shape) is tuple and len(shape) <= _MAX_NDIM and all(type(n) is int and n >= 0 for n in shape)
    _require(ok, where + ".shape", f"a tuple of at most {_MAX_NDIM} non-negative ints")
    size = itemsize
    for n in shape:
        size *= n
    return size


def check_array_state(state: Any, where: str, max_bytes: int) -> int:
    """Raise :class:`UnsafeModelState` unless *state* is a well-formed ndarray state; return its byte size."""
    import numpy as np

    _require(type(state) is tuple and len(state) == 5 and state[0] == 1, where, "ndarray state is (1, shape, ...)")
    _, shape, dtype, fortran, data = state
    _require(isinstance(dtype, np.dtype) and type(fortran) is bool, where + ".dtype", "a dtype and a bool")
    size = array_bytes(shape, dtype.itemsize, where)
    _require(size <= max_bytes, where, f"array of {size} bytes is over the cap of {max_bytes}")
    if dtype.hasobject:
        items = size // dtype.itemsize if dtype.itemsize else 0
        ok = dtype == np.dtype("O") and type(data) is list and len(data) == items
        _require(ok, where + ".data", "an object array is a plain object dtype with one item per element")
    else:
        _require(type(data) is bytes and len(data) == size, where + ".data", "bytes given == prod(shape) * itemsize")
    return size


def _reference_state(dtype: Any, state: tuple[Any, ...], where: str) -> Any:
    """The state numpy itself writes for the dtype *state* describes, built without applying *state*."""
    import numpy as np

    _, order, _, names, fields, itemsize = state[:6]
    if names is None:
        _require(fields is None and dtype.names is None, where + ".fields", "no fields without names")
        return (dtype.newbyteorder(order) if order in "<>" else dtype).__reduce__()[2]
    ok = type(names) is tuple and 0 < len(names) <= _MAX_FIELDS and all(type(name) is str for name in names)
    _require(ok and len(set(names)) == len(names), where + ".names", "unique field names")
    _require(type(fields) is dict and set(fields) == set(names), where + ".fields", "one entry per name")
    _require(type(itemsize) is int and itemsize == dtype.itemsize, where + ".itemsize", "the size it was made with")
    _require(dtype.kind == "V" and dtype.names is None, where, "fields only on a plain void dtype")
    spans = []
    for name in names:
        entry = fields[name]
        ok = type(entry) is tuple and len(entry) == 2 and isinstance(entry[0], np.dtype) and type(entry[1]) is int
        ok = ok and not entry[0].hasobject and entry[0].names is None and entry[0].subdtype is None
        _require(ok, f"{where}.fields[{name!r}]", "a plain dtype and an int offset")
        spans.append((entry[1], entry[1] + entry[0].itemsize, name))
    end = 0
    for start, stop, name in sorted(spans):
        _require(start >= end and stop <= itemsize, f"{where}.fields[{name!r}]", "fields inside the item, disjoint")
        end = stop
    formats = [fields[name][0] for name in names]
    offsets = [fields[name][1] for name in names]
    layout: Any = {"names": list(names), "formats": formats, "offsets": offsets, "itemsize": itemsize}
    return np.dtype(layout).__reduce__()[2]


def check_dtype_state(dtype: Any, state: Any, where: str) -> None:
    """Raise :class:`UnsafeModelState` unless *state* is exactly the state numpy writes for the dtype it
    describes: flags, alignment and item size can then not disagree with the fields (object flags on plain
    bytes would make numpy treat data as pointers; a field outside the item reads outside the buffer)."""
    ok = type(state) is tuple and len(state) == 8 and state[0] == 3
    _require(ok, where, "dtype state is numpy's version-3 8-tuple")
    _require(type(state[1]) is str and state[1] in _BYTE_ORDERS, where + ".byteorder", "one of < > | =")
    _require(state[2] is None, where + ".subarray", "no subarray dtypes")
    _require(_reference_state(dtype, state, where) == state, where, "the state numpy writes for this dtype")


def check_array_sizes(arrays: list[Any], paths: Any) -> int:
    """Check ``itemsize * size == nbytes`` for every array; return their total bytes (*paths* names refusals)."""
    total = 0
    for index, array in enumerate(arrays):
        if array.itemsize * array.size != array.nbytes:
            raise UnsafeModelState(paths(index), "itemsize * size == nbytes")
        total += array.nbytes
    return total
