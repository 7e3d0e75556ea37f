"""Signed pickles whose numpy array or dtype state claims more than the bytes behind it, over the cap, or a
field layout / flags numpy would trust, are refused before numpy applies them; state applied to an object
something already used (a dtype an array was built with) or one state applied twice are refused too."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from diabetes_risk_model.errors import PickleRefused, UnsafeModelState
from diabetes_risk_model.unpickling import PickleLimits, restricted_loads
from tests.support.forge import forge
from tests.support.pickle_payloads import call, glob, program, raw_bytes, text

_RECONSTRUCT = getattr(np.core.multiarray, "_reconstruct")  # noqa: B009 - numpy's own pickle reconstructor


def _array_with(state: tuple[Any, ...]) -> Callable[[Any], Any]:
    """A replacement for the pipeline's first float array: an empty ndarray, then BUILD with *state*."""
    return lambda obj: (_RECONSTRUCT, (np.ndarray, (0,), b"b"), state)


def _pipeline_with_array_state(pipeline: Any, state: tuple[Any, ...]) -> bytes:
    scaler = pipeline.steps[4][1].transformer
    target = scaler.mean_
    return forge(pipeline, lambda obj: _array_with(state)(obj) if obj is target else None, protocol=2)


ARRAYS: dict[str, tuple[tuple[Any, ...], str]] = {
    "shape-larger-than-bytes": ((1, (10**6,), np.dtype("f8"), False, b"\0" * 8), "prod(shape) * itemsize"),
    "shape-over-the-cap": ((1, (2**40,), np.dtype("f8"), False, b"\0"), "over the cap"),
    "negative-shape": ((1, (-1,), np.dtype("f8"), False, b"\0"), "non-negative ints"),
    "object-items-missing": ((1, (5,), np.dtype("O"), False, ["a"]), "one item per element"),
}


@pytest.mark.parametrize("attack", sorted(ARRAYS))
def test_signed_array_state_is_refused_before_allocation(
    smoke_pipeline: Any, signed: Callable[[bytes], bytes], attack: str
) -> None:
    state, rule = ARRAYS[attack]
    with pytest.raises(UnsafeModelState) as info:
        restricted_loads(signed(_pipeline_with_array_state(smoke_pipeline, state)))
    assert info.value.path.startswith("ndarray#") and rule in info.value.rule, (info.value.path, info.value.rule)


def _dtype_program(code: str, state: bytes) -> bytes:
    return program(call(glob("numpy", "dtype"), text(code), b"\x89\x88") + state + b"b")


def _state(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


_FIELDS_OUTSIDE = _state(
    b"K\x03", text("|"), b"N", text("a") + b"\x85", b"}" + text("a") + call(glob("numpy", "dtype"), text("f8"),
    b"\x89\x88") + b"K\x64\x86s", b"K\x08", b"K\x01", b"K\x10",
)  # fmt: skip
DTYPES: dict[str, tuple[bytes, str, str]] = {
    "object-flags-on-floats": (
        _dtype_program("f8", _state(b"K\x03", text("<"), b"N", b"N", b"N", b"J\xff\xff\xff\xff" * 2, b"K\x3f")),
        "dtype#1",
        "the state numpy writes",
    ),
    "field-outside-the-item": (_dtype_program("V8", _FIELDS_OUTSIDE), "dtype#1.fields['a']", "inside the item"),
    "not-version-3": (_dtype_program("f8", _state(b"K\x02")), "dtype#1", "version-3"),
}


@pytest.mark.parametrize("attack", sorted(DTYPES))
def test_signed_dtype_state_is_refused(signed: Callable[[bytes], bytes], attack: str) -> None:
    payload, path, rule = DTYPES[attack]
    with pytest.raises(UnsafeModelState) as info:
        restricted_loads(signed(payload))
    assert info.value.path == path and rule in info.value.rule, (info.value.path, info.value.rule)


def test_state_applied_to_a_dtype_an_array_already_uses_is_refused(signed: Callable[[bytes], bytes]) -> None:
    # dtype('f8') made, memoized, used by _frombuffer to build an array; then BUILD retargets the dtype.
    dtype = call(glob("numpy", "dtype"), text("f8"), b"\x89\x88") + b"\x94"
    array = call(glob("numpy.core.numeric", "_frombuffer"), raw_bytes(b"\0" * 8), dtype, b"K\x01\x85", text("C"))
    rebuild = b"h\x00" + _state(b"K\x03", text(">"), b"N", b"N", b"N", b"J\xff\xff\xff\xff" * 2, b"K\x00") + b"b"
    with pytest.raises(PickleRefused, match="already used"):
        restricted_loads(signed(program(array + rebuild + b"\x86")))


def test_one_state_object_applied_to_two_objects_is_refused(signed: Callable[[bytes], bytes]) -> None:
    state = b"}" + text("strategy") + text("prior") + b"s\x94"
    first = glob("sklearn.dummy", "DummyClassifier") + b")\x81" + state + b"b"
    second = glob("sklearn.dummy", "DummyClassifier") + b")\x81" + b"h\x00b"
    with pytest.raises(PickleRefused, match="one state object"):
        restricted_loads(signed(program(first + second + b"\x86")))


def test_arrays_over_the_total_byte_cap_are_refused(smoke_pipeline: Any) -> None:
    with pytest.raises(UnsafeModelState, match="arrays total more than"):
        restricted_loads(pickle.dumps(smoke_pipeline, protocol=5), limits=PickleLimits(max_array_bytes=100_000))


def test_real_arrays_and_dtypes_round_trip(signed: Callable[[bytes], bytes]) -> None:
    from sklearn.tree._tree import NODE_DTYPE

    values = [np.arange(6.0).reshape(2, 3), np.zeros(3, NODE_DTYPE), np.array(["a", "bc"], dtype=object)]
    for protocol in (2, 4, 5):
        loaded = restricted_loads(signed(pickle.dumps(values, protocol=protocol)))
        for got, want in zip(loaded, values, strict=True):
            np.testing.assert_array_equal(got, want)
            assert got.dtype == want.dtype
