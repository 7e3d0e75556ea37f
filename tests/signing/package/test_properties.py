"""Property-based tests (hypothesis) on the verifier and the archive format.

* Any mutation of a valid package — flips, overwrites, insertions, deletions, truncation, splices — either
  leaves the bytes equal (and then verifies) or raises a VerificationError subclass; never another
  exception type and never a success on different bytes.
* Any set of safe member names and contents round-trips: build, verify, read back identical bytes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diabetes_risk_model.errors import VerificationError
from diabetes_risk_model.signing import Keyring, build_package, verify_package
from diabetes_risk_model.signing.package._archive import read_directory
from tests.support.tamper import BASE, RING

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(BASE) - 1), st.integers(1, 255)),
    st.tuples(st.just("set"), st.integers(0, len(BASE) - 1), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, len(BASE)), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("delete"), st.integers(0, len(BASE) - 1), st.integers(1, 64)),
    st.tuples(st.just("truncate"), st.integers(0, len(BASE) - 1), st.just(0)),
    st.tuples(st.just("splice"), st.integers(0, len(BASE) - 1), st.integers(0, len(BASE) - 1)),
)


def _apply(data: bytes, op: tuple[str, int, object]) -> bytes:
    kind, at, arg = op
    if not data:
        return bytes(arg) if kind == "insert" else data  # type: ignore[call-overload]
    at = at % (len(data) + (kind == "insert"))  # earlier operations may have changed the length
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ int(arg)]) + data[at + 1 :]  # type: ignore[call-overload]
    if kind == "set":
        return data[:at] + bytes([int(arg)]) + data[at + 1 :]  # type: ignore[call-overload]
    if kind == "insert":
        return data[:at] + bytes(arg) + data[at:]  # type: ignore[call-overload]
    if kind == "delete":
        return data[:at] + data[at + int(arg) :]  # type: ignore[call-overload]
    if kind == "truncate":
        return data[:at]
    src = int(arg)  # type: ignore[call-overload]
    return data[:at] + data[src : src + 32] + data[at + 32 :]


def _outcome(data: bytes, ring: Keyring) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.zip"
        path.write_bytes(data)
        try:
            verify_package(path, ring)
        except VerificationError as exc:
            return type(exc).__name__
    return "ok"


@_SETTINGS
@given(st.lists(mutation, min_size=1, max_size=4))
def test_random_mutations_are_refused_or_identical(ops: list[tuple[str, int, object]]) -> None:
    data = BASE
    for op in ops:
        data = _apply(data, op)
    outcome = _outcome(data, RING)  # any non-VerificationError propagates and fails the test
    assert (outcome == "ok") == (data == BASE), outcome


@_SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash_the_reader(data: bytes) -> None:
    assert _outcome(data, RING) != "ok"


@_SETTINGS
@given(st.binary(min_size=22, max_size=400))
def test_arbitrary_bytes_with_a_zip_tail(data: bytes) -> None:
    """Random bodies ending in a plausible end record still only ever raise VerificationError."""
    assert _outcome(data + BASE[-22:], RING) != "ok"


_segment = st.from_regex(r"[A-Za-z0-9_](?:[A-Za-z0-9._ -]{0,10}[A-Za-z0-9_-])?", fullmatch=True)
_name = (
    st.lists(_segment, min_size=1, max_size=3)
    .map("/".join)
    .filter(lambda n: n not in {"manifest.json", "model.pkl", "signed_model.pkl"})
)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(_name, st.binary(max_size=3000), max_size=6).filter(
        lambda d: len({k.lower() for k in d}) == len(d)
    ),
    st.binary(max_size=2000),
)
def test_any_safe_members_round_trip(members: dict[str, bytes], model: bytes) -> None:
    ring = RING
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = {}
        for i, (name, data) in enumerate(members.items()):
            files[name] = root / f"m{i}"
            files[name].write_bytes(data)
        (root / "model").write_bytes(model)
        path = build_package(
            root / "out",
            name="m",
            version="1",
            parameters_version="p",
            model_pickle=root / "model",
            extra_members=files,
            keyring=ring,
            sequence=1,
        )
        verified = verify_package(path, ring)
        assert verified.model_bytes is not None and verified.model_bytes.tobytes() == model
        with open(path, "rb") as stream:
            names = [e.name for e in read_directory(stream, path.stat().st_size)]
        assert names == [*sorted([*members, "model.pkl"]), "model.sig"]


def _legacy_base() -> bytes:
    import io
    import pickle
    import zipfile

    import itsdangerous

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.pkl", pickle.dumps({"w": list(range(50))}))
        archive.writestr("signed_model.pkl", itsdangerous.Signer("L" * 40).sign(pickle.dumps({"w": list(range(50))})))
    return buffer.getvalue()


LEGACY = _legacy_base()
LEGACY_RING = Keyring.from_env({"PARAMETERS_SIGNING_KEY": "L" * 40})


@_SETTINGS
@given(st.lists(mutation, min_size=1, max_size=3))
def test_legacy_reader_only_raises_verification_errors(ops: list[tuple[str, int, object]]) -> None:
    """The lenient legacy path (zipfile) never leaks another exception type; the signed bytes it returns
    are always exactly the originally signed pickle."""
    data = LEGACY
    for op in ops:
        data = _apply(data, op)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "legacy.zip"
        path.write_bytes(data)
        try:
            verified = verify_package(path, LEGACY_RING)
        except VerificationError:
            return
    import pickle

    assert verified.model_bytes is not None
    assert pickle.loads(verified.model_bytes.tobytes()) == {"w": list(range(50))}
