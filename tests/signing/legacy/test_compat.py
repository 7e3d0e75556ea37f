"""The original design's package (../shared/compat) is an external test vector: it must verify with its
published key, and be refused with any other key or after any change. It is never unpickled."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import itsdangerous
import pytest

from diabetes_risk_model.errors import (
    BadSignature,
    BindingMismatch,
    Rollback,
    UnknownKey,
    UnsafeArchive,
)
from diabetes_risk_model.signing import Expectation, Key, Keyring, verify_package
from diabetes_risk_model.signing.legacy._verify import LegacyManifest
from tests.support.signing import compat_key


@pytest.fixture(scope="module")
def signed_model(compat_package: Path) -> bytes:
    with zipfile.ZipFile(compat_package) as archive:
        return archive.read("signed_model.pkl")


@pytest.fixture(scope="module")
def legacy_ring() -> Keyring:
    return Keyring.from_env({"PARAMETERS_SIGNING_KEY": compat_key()})


def _repack(compat_package: Path, target: Path, signed: bytes) -> Path:
    """The compat zip with signed_model.pkl replaced (other members kept; stored, to keep the test fast)."""
    with zipfile.ZipFile(compat_package) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = signed if info.filename == "signed_model.pkl" else src.read(info)
            dst.writestr(info.filename, data, compress_type=zipfile.ZIP_STORED)
    return target


def test_compat_package_verifies_with_its_published_key(compat_package: Path, legacy_ring: Keyring) -> None:
    verified = verify_package(compat_package, legacy_ring)
    m = verified.manifest
    assert verified.is_legacy and m.format == "legacy"
    assert (m.name, m.version, m.parameters_version, m.key_id) == (
        "diabetes_risk_model",
        "0.1.0",
        "2023_03_17",
        "default",
    )
    assert isinstance(m, LegacyManifest)
    assert m.signed_members == ("signed_model.pkl",)
    assert set(m.unsigned_members) == {".DS_Store", "data_report.html", "model.pkl"}
    assert [s.ok for s in verified.members if s.path == "model.pkl"] == [False]  # not covered


def test_legacy_verification_matches_itsdangerous(
    signed_model: bytes, legacy_ring: Keyring, compat_package: Path
) -> None:
    """What we accept is exactly what itsdangerous' defaults accept (SHA-1, django-concat)."""
    expected = itsdangerous.Signer(compat_key()).unsign(signed_model)
    verified = verify_package(compat_package, legacy_ring)
    assert verified.model_bytes is not None and verified.model_bytes.tobytes() == expected


def test_legacy_cannot_satisfy_an_expectation(compat_package: Path, legacy_ring: Keyring) -> None:
    expect = Expectation("diabetes_risk_model", "0.1.0", "2023_03_17")
    with pytest.raises(BindingMismatch) as info:
        verify_package(compat_package, legacy_ring, expect)
    assert info.value.field == "format"
    # explicitly allowed: checked against the (unsigned) file name; any minimum sequence refuses it
    assert verify_package(compat_package, legacy_ring, expect, allow_legacy=True).is_legacy
    with pytest.raises(BindingMismatch) as info:
        verify_package(
            compat_package, legacy_ring, Expectation("diabetes_risk_model", "0.2.0", "2023_03_17"), allow_legacy=True
        )
    assert info.value.field == "version"
    with pytest.raises(Rollback):
        verify_package(
            compat_package, legacy_ring, Expectation("diabetes_risk_model", "0.1.0", "2023_03_17", 1), allow_legacy=True
        )


@pytest.mark.parametrize("variant", ["one-char-longer", "one-char-changed", "truncated", "random", "empty-ish"])
def test_compat_refused_with_any_other_key(compat_package: Path, variant: str) -> None:
    key = compat_key()
    other = {
        "one-char-longer": key + "x",
        "one-char-changed": ("a" if key[0] != "a" else "b") + key[1:],
        "truncated": key[:-1],
        "random": "k" * 64,
        "empty-ish": "0" * 32,
    }[variant]
    with pytest.raises(BadSignature):
        verify_package(compat_package, Keyring.from_env({"PARAMETERS_SIGNING_KEY": other}))


def test_compat_refused_without_a_legacy_key(compat_package: Path) -> None:
    with pytest.raises(UnknownKey):
        verify_package(compat_package, Keyring([Key.generate("ed", "ed25519")]))


def _positions(length: int) -> list[int]:
    tail = list(range(length - 40, length))  # the separator and the whole signature
    return sorted(set(range(0, length, length // 60)) | set(tail) | {0, 1, 2})


@pytest.mark.parametrize("index", range(100))
def test_compat_refused_after_any_one_byte_change(
    tmp_path: Path, compat_package: Path, signed_model: bytes, legacy_ring: Keyring, index: int
) -> None:
    positions = _positions(len(signed_model))
    position = positions[index % len(positions)]
    mask = 0x01 if index % 2 else 0x40
    changed = bytearray(signed_model)
    changed[position] ^= mask
    tampered = _repack(compat_package, tmp_path / "diabetes_risk_model-0.1.0-2023_03_17.zip", bytes(changed))
    with pytest.raises(BadSignature):
        verify_package(tampered, legacy_ring)


@pytest.mark.parametrize("edit", ["drop-signature", "drop-separator", "append-byte", "empty", "signature-only"])
def test_compat_refused_after_structural_change(
    tmp_path: Path, compat_package: Path, signed_model: bytes, legacy_ring: Keyring, edit: str
) -> None:
    value, _, sig = signed_model.rpartition(b".")
    changed = {
        "drop-signature": value,
        "drop-separator": value + sig,
        "append-byte": signed_model + b"\n",
        "empty": b"",
        "signature-only": b"." + sig,
    }[edit]
    with pytest.raises(BadSignature):
        verify_package(_repack(compat_package, tmp_path / "x.zip", changed), legacy_ring)


def test_raw_byte_flips_in_the_compat_zip_are_refused(
    tmp_path: Path, compat_package: Path, legacy_ring: Keyring
) -> None:
    """Flips in the raw compat file: the deflate stream or CRC breaks, or the signature fails."""
    data = compat_package.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("signed_model.pkl")
    start = info.header_offset + 30 + len(info.filename)
    target = tmp_path / "flipped.zip"
    for offset in range(start, start + info.compress_size, info.compress_size // 25):
        flipped = bytearray(data)
        flipped[offset] ^= 0x10
        target.write_bytes(bytes(flipped))
        with pytest.raises((BadSignature, UnsafeArchive)):
            verify_package(target, legacy_ring)


def test_legacy_detection_needs_signed_model_and_no_manifest(tmp_path: Path, legacy_ring: Keyring) -> None:
    """A zip with both names is not treated as legacy (no downgrade to the weaker format)."""
    path = tmp_path / "both.zip"
    payload = pickle.dumps({"x": 1})
    signed = itsdangerous.Signer(compat_key()).sign(payload)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("signed_model.pkl", signed)
        archive.writestr("manifest.json", b"{}")
    with pytest.raises(UnsafeArchive):
        verify_package(path, legacy_ring)


def test_every_substitution_in_the_signature_is_refused(
    signed_model: bytes, legacy_ring: Keyring, tmp_path: Path
) -> None:
    """itsdangerous compares *decoded* signatures; base64's unused bits let 3 other final characters decode to
    the same SHA-1 digest. Our verifier must refuse those too: all 27 x 63 one-character substitutions."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value, _, signature = signed_model.rpartition(b".")
    assert len(signature) == 27
    # the hole exists in itsdangerous itself: some substitutions still unsign there
    slack = [c for c in alphabet if c != signature[-1] and _unsigns(value + b"." + signature[:-1] + bytes([c]))]
    assert len(slack) == 3

    target = tmp_path / "diabetes_risk_model-0.1.0-2023_03_17.zip"
    accepted, tried = [], 0
    for position in range(len(signature)):
        for char in alphabet:
            if char == signature[position]:
                continue
            forged = signature[:position] + bytes([char]) + signature[position + 1 :]
            with zipfile.ZipFile(target, "w") as archive:
                archive.writestr("signed_model.pkl", value + b"." + forged)
            tried += 1
            try:
                verify_package(target, legacy_ring)
            except BadSignature:
                continue
            accepted.append(forged.decode())
    assert tried == 27 * 63
    assert accepted == []


def _unsigns(data: bytes) -> bool:
    try:
        itsdangerous.Signer(compat_key()).unsign(data)
    except itsdangerous.BadSignature:
        return False
    return True
