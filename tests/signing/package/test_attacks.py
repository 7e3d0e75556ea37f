"""Whole-member and whole-package attacks: swap, rename, add, remove, reorder, foreign or retired keys,
rollback, substitution, expiry, zip bombs, traversal and duplicate names. Each asserts the exact type."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from diabetes_risk_model.errors import (
    BadSignature,
    BindingMismatch,
    DigestMismatch,
    Expired,
    MemberSetMismatch,
    MissingMember,
    RetiredKey,
    Rollback,
    UnexpectedMember,
    UnknownKey,
    UnsafeArchive,
    VerificationError,
)
from diabetes_risk_model.signing import Expectation, Key, Keyring, Limits, verify_package
from tests.support.signing import NAME, PV, VERSION
from tests.support.ziptools import members_of, raw_zip

EXPECT = Expectation(NAME, VERSION, PV, min_sequence=50)


def _rezip(base: bytes, edit: Callable[[list[tuple[str, bytes, bool]]], list[tuple[str, bytes, bool]]]) -> bytes:
    members = edit(members_of(base))
    return raw_zip([(n.encode(), d, z) for n, d, z in members])


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"{NAME}-{VERSION}-{PV}.zip"
    path.write_bytes(data)
    return path


def _swap(ms: list[tuple[str, bytes, bool]], a: str, b: str) -> list[tuple[str, bytes, bool]]:
    data = {n: d for n, d, _ in ms}
    return [(n, data[b] if n == a else data[a] if n == b else d, z) for n, d, z in ms]


def _rename(ms: list[tuple[str, bytes, bool]], old: str, new: str) -> list[tuple[str, bytes, bool]]:
    renamed = [(new if n == old else n, d, z) for n, d, z in ms]
    manifest = renamed.pop()
    return [*sorted(renamed), manifest]


MEMBER_EDITS: list[tuple[str, Callable[..., list[tuple[str, bytes, bool]]], type[VerificationError], str | None]] = [
    ("swap-model-metrics", lambda ms: _swap(ms, "model.pkl", "metrics.json"), DigestMismatch, "metrics.json"),
    ("swap-pngs", lambda ms: _swap(ms, "plots/auc.png", "plots/confusion_matrix.png"), DigestMismatch, "plots/auc.png"),
    (
        "replace-model",
        lambda ms: [(n, b"cos\nsystem\n(S'id'\ntR." if n == "model.pkl" else d, z) for n, d, z in ms],
        DigestMismatch,
        "model.pkl",
    ),
    (
        "recompress-html",
        lambda ms: [(n, d, False if n == "data_report.html" else z) for n, d, z in ms],
        DigestMismatch,
        "data_report.html",
    ),
    (
        "compress-model",
        lambda ms: [(n, d, True if n == "model.pkl" else z) for n, d, z in ms],
        DigestMismatch,
        "model.pkl",
    ),
    (
        "append-to-member",
        lambda ms: [(n, d + b" " if n == "metrics.json" else d, z) for n, d, z in ms],
        DigestMismatch,
        "metrics.json",
    ),
    (
        "empty-member",
        lambda ms: [(n, b"" if n == "metrics.json" else d, z) for n, d, z in ms],
        DigestMismatch,
        "metrics.json",
    ),
    ("rename-member", lambda ms: _rename(ms, "metrics.json", "metrics2.json"), MemberSetMismatch, None),
    ("rename-model", lambda ms: _rename(ms, "model.pkl", "model2.pkl"), MemberSetMismatch, None),
    ("remove-member", lambda ms: [m for m in ms if m[0] != "metrics.json"], MissingMember, None),
    ("remove-model", lambda ms: [m for m in ms if m[0] != "model.pkl"], MissingMember, None),
    ("add-member", lambda ms: [*sorted([*ms[:-1], ("extra.txt", b"hi", False)]), ms[-1]], UnexpectedMember, None),
    (
        "add-pickle",
        lambda ms: [*sorted([*ms[:-1], ("evil.pkl", b"cos\nsystem\n.", False)]), ms[-1]],
        UnexpectedMember,
        None,
    ),
    ("remove-manifest", lambda ms: ms[:-1], UnsafeArchive, None),
    ("manifest-first", lambda ms: [ms[-1], *ms[:-1]], UnsafeArchive, None),
    ("reorder", lambda ms: [*reversed(ms[:-1]), ms[-1]], UnsafeArchive, None),
    ("deflate-manifest", lambda ms: [*ms[:-1], (ms[-1][0], ms[-1][1], True)], UnsafeArchive, None),
    ("duplicate-member", lambda ms: [ms[0], *ms], UnsafeArchive, None),
    ("duplicate-manifest", lambda ms: [*ms, ms[-1]], UnsafeArchive, None),
    ("case-duplicate", lambda ms: [*sorted([*ms[:-1], ("MODEL.pkl", b"x", False)]), ms[-1]], UnsafeArchive, None),
    (
        "add-signed-model",
        lambda ms: [*sorted([*ms[:-1], ("signed_model.pkl", b"x.y", False)]), ms[-1]],
        UnexpectedMember,
        None,
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected", "member"), [e[1:] for e in MEMBER_EDITS], ids=[e[0] for e in MEMBER_EDITS]
)
def test_member_level_attack(tmp_path: Path, base_package: Path, verify_ring: Keyring, edit, expected, member) -> None:
    mutated = _rezip(base_package.read_bytes(), edit)
    with pytest.raises(VerificationError) as info:
        verify_package(_write(tmp_path, mutated), verify_ring)
    assert type(info.value) is expected, info.value
    if member:
        assert isinstance(info.value, DigestMismatch) and info.value.member == member


def test_rezip_helper_reproduces_the_canonical_bytes(base_package: Path) -> None:
    """The raw writer used above is byte-identical to ours for an unedited package, so each edit is the
    only difference the verifier sees."""
    assert _rezip(base_package.read_bytes(), lambda ms: ms) == base_package.read_bytes()


UNSAFE_NAMES = [
    b"../evil.pkl",
    b"/etc/passwd",
    b"a\\b.txt",
    b"plots/../x",
    b".hidden",
    b"plots/",
    b"a//b",
    b"C:evil",
    b"caf\xc3\xa9.txt",
    b"x\x00y",
    b" space",
    b"plots/./a.png",
    b"a" * 250,
]


@pytest.mark.parametrize("name", UNSAFE_NAMES, ids=[repr(n)[:30] for n in UNSAFE_NAMES])
def test_unsafe_member_names_are_refused(tmp_path: Path, base_package: Path, verify_ring: Keyring, name: bytes) -> None:
    ms = members_of(base_package.read_bytes())
    hostile = [(name, b"payload", False)] + [(n.encode(), d, z) for n, d, z in ms]
    with pytest.raises(UnsafeArchive) as info:
        verify_package(_write(tmp_path, raw_zip(hostile)), verify_ring)
    assert name.decode("latin-1") not in str(info.value)  # the refused name is never echoed


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path, verify_ring: Keyring) -> None:
    bomb = raw_zip([(b"bomb.html", b"\0" * (20 << 20), True), (b"manifest.json", b"{}", False)])
    with pytest.raises(UnsafeArchive, match="compression ratio"):
        verify_package(_write(tmp_path, bomb), verify_ring)


def test_member_over_size_limit_is_refused(base_package: Path, verify_ring: Keyring) -> None:
    with pytest.raises(UnsafeArchive, match="larger than the limit"):
        verify_package(base_package, verify_ring, limits=Limits(max_member_size=1000))


def test_too_many_members_is_refused(tmp_path: Path, verify_ring: Keyring) -> None:
    many = raw_zip([(f"m{i:04d}".encode(), b"x", False) for i in range(300)])
    with pytest.raises(UnsafeArchive, match="member count"):
        verify_package(_write(tmp_path, many), verify_ring)


def test_archive_over_total_limit_is_refused(base_package: Path, verify_ring: Keyring) -> None:
    with pytest.raises(UnsafeArchive):
        verify_package(base_package, verify_ring, limits=Limits(max_total_size=1000))


def test_lying_inflated_size_is_a_digest_mismatch(tmp_path: Path) -> None:
    """A deflated member that inflates past its declared size stops at declared size + 1 byte."""
    from diabetes_risk_model.signing.package._archive import ZipEntry, hash_member

    data = zlib.compress(b"A" * 5000, 9)[2:-4]
    path = tmp_path / "x.bin"
    path.write_bytes(data)
    with open(path, "rb") as stream, pytest.raises(DigestMismatch):
        hash_member(stream, ZipEntry("x", 8, 0, len(data), 100, 0, 0))


def test_non_canonical_zip_of_the_same_members_is_refused(
    tmp_path: Path, base_package: Path, verify_ring: Keyring
) -> None:
    out = tmp_path / "rezipped.zip"
    with zipfile.ZipFile(base_package) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=info.compress_type)
    with pytest.raises(UnsafeArchive):
        verify_package(out, verify_ring)


def test_not_a_zip_and_missing_file(tmp_path: Path, verify_ring: Keyring) -> None:
    with pytest.raises(UnsafeArchive):
        verify_package(_write(tmp_path, b"not a zip at all, just some text " * 10), verify_ring)
    with pytest.raises(UnsafeArchive):
        verify_package(tmp_path / "absent.zip", verify_ring)
    with pytest.raises(UnsafeArchive, match=r"neither manifest\.json nor signed_model\.pkl"):
        verify_package(_write(tmp_path, raw_zip([(b"model.pkl", b"x", False)])), verify_ring)


# -- keys ------------------------------------------------------------------------------------------------


def test_wrong_secret_same_key_id_is_bad_signature(make_package: Callable[..., Path], hmac_key: Key) -> None:
    signer = Keyring([Key.generate("shared-id", "hmac-sha256")])
    package = make_package(keyring=signer)
    impostor = Keyring([Key.generate("shared-id", "hmac-sha256")])
    with pytest.raises(BadSignature):
        verify_package(package, impostor)


def test_wrong_ed25519_key_same_id_is_bad_signature(make_package: Callable[..., Path]) -> None:
    package = make_package(keyring=Keyring([Key.generate("ed-x", "ed25519")]))
    with pytest.raises(BadSignature):
        verify_package(package, Keyring([Key.generate("ed-x", "ed25519")]).public())


def test_algorithm_confusion_is_bad_signature(make_package: Callable[..., Path]) -> None:
    package = make_package(keyring=Keyring([Key.generate("same", "ed25519")]))
    with pytest.raises(BadSignature):
        verify_package(package, Keyring([Key.generate("same", "hmac-sha256")]))


def test_attacker_key_is_unknown(make_package: Callable[..., Path], verify_ring: Keyring) -> None:
    package = make_package(keyring=Keyring([Key.generate("attacker", "ed25519")]))
    with pytest.raises(UnknownKey) as info:
        verify_package(package, verify_ring)
    assert info.value.key_id == "attacker"


def test_retired_key_is_refused(make_package: Callable[..., Path], retired_key: Key, verify_ring: Keyring) -> None:
    package = make_package(keyring=Keyring([retired_key]))
    with pytest.raises(RetiredKey):
        verify_package(package, verify_ring)


def test_verifier_uses_only_the_named_key(make_package: Callable[..., Path], keyring: Keyring) -> None:
    """Signed with hmac-2026; a ring holding every other key but not that id says UnknownKey."""
    package = make_package(keyring=Keyring([k for k in keyring.keys if k.key_id == "hmac-2026"]))
    others = Keyring([k for k in keyring.keys if k.key_id != "hmac-2026"])
    with pytest.raises(UnknownKey):
        verify_package(package, others)


# -- binding, rollback, expiry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expect"),
    [
        ("name", Expectation("other_model", VERSION, PV)),
        ("version", Expectation(NAME, "0.2.0", PV)),
        ("parameters_version", Expectation(NAME, VERSION, "2027_01_01")),
    ],
)
def test_binding_mismatch(base_package: Path, verify_ring: Keyring, field: str, expect: Expectation) -> None:
    with pytest.raises(BindingMismatch) as info:
        verify_package(base_package, verify_ring, expect)
    assert info.value.field == field
    assert info.value.expected == getattr(expect, field)


def test_substituted_package_under_another_object_name(
    tmp_path: Path, make_package: Callable[..., Path], verify_ring: Keyring
) -> None:
    """A valid older version copied under the newer version's object name is refused."""
    old = make_package(version="0.0.9")
    renamed = _write(tmp_path, old.read_bytes())
    with pytest.raises(BindingMismatch) as info:
        verify_package(renamed, verify_ring, EXPECT)
    assert info.value.field == "version"


def test_rollback_is_refused(make_package: Callable[..., Path], verify_ring: Keyring) -> None:
    older = make_package(sequence=49)
    with pytest.raises(Rollback) as info:
        verify_package(older, verify_ring, EXPECT)
    assert (info.value.sequence, info.value.minimum) == (49, 50)
    assert verify_package(make_package(sequence=50), verify_ring, EXPECT).manifest.sequence == 50


def test_expired_manifest_is_refused(make_package: Callable[..., Path], verify_ring: Keyring) -> None:
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    package = make_package(expires_at=expires)
    assert verify_package(package, verify_ring, now=expires - timedelta(seconds=1)).manifest.expires == expires
    with pytest.raises(Expired):
        verify_package(package, verify_ring, now=expires)
    with pytest.raises(Expired):
        verify_package(make_package(expires_at=datetime(2020, 1, 1, tzinfo=UTC)), verify_ring)


SAFE_NAMES = ["plots/Confusion Matrix.png", "plots/AUC.png", "data_report.html", "a", "x/y/z_1-2.json", "_x"]


@pytest.mark.parametrize("name", SAFE_NAMES)
def test_safe_member_names_are_accepted(name: str) -> None:
    from diabetes_risk_model.signing.package._archive import check_name

    check_name(name)


@pytest.mark.parametrize("name", ["a.", "a ", "plots/x.png ", "a/ b", "..", ".", "a/.", "-x"])
def test_names_with_ambiguous_ends_are_refused(name: str) -> None:
    from diabetes_risk_model.signing.package._archive import check_name

    with pytest.raises(UnsafeArchive):
        check_name(name)
