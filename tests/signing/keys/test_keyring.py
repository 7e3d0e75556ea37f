"""Keys and keyrings: ECDSA only, the newest key signs, the public view, file and env sources, 0600, no key
material in repr or in the repository."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from diabetes_risk_model.errors import (
    BadSignature,
    ConfigurationError,
    MissingEnvironmentVariable,
    UnknownKey,
)
from diabetes_risk_model.signing import (
    Key,
    Keyring,
    verify_package,
)
from tests.support.signing import REPO


def test_newest_active_key_signs(keyring: Keyring, make_package: Callable[..., Path], verify_ring: Keyring) -> None:
    assert keyring.signing_key().key_id == "ec-2026"
    manifest = verify_package(make_package(), verify_ring).manifest
    assert (manifest.key_id, manifest.alg) == ("ec-2026", "ecdsa-p256")
    ring = keyring.retire("ec-2026")
    assert ring.signing_key().key_id == "p384-2025"


def test_public_view_cannot_sign(keyring: Keyring) -> None:
    assert keyring.has_secrets
    public = keyring.public()
    assert not public.has_secrets
    assert all(k.private is None and not k.can_sign for k in public.keys)
    with pytest.raises(ConfigurationError):
        public.signing_key()
    with pytest.raises(ConfigurationError, match="verification-only"):
        public.verifier_for("ec-2026").sign(b"data")


@pytest.mark.parametrize("alg", ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521"])
def test_every_oms_curve_signs_and_verifies(alg: str) -> None:
    key = Key.generate("k", alg)
    signature = key.sign(b"data")
    key.public_only().verify(b"data", signature)
    with pytest.raises(BadSignature):
        key.public_only().verify(b"other", signature)


@pytest.mark.parametrize("alg", ["ed25519", "hmac-sha256", "hmac", "rsa"])
def test_only_ecdsa_keys_exist(alg: str) -> None:
    with pytest.raises(ConfigurationError, match="ecdsa-p256"):
        Key.generate("k", alg)


def test_repr_and_errors_never_show_key_material(keyring: Keyring, new_key: Key) -> None:
    text = repr(keyring) + repr(new_key) + repr(new_key.public_only())
    materials = [k.to_json()["private"] for k in keyring.keys]
    assert all(m and m not in text and m[:16] not in text for m in materials)
    assert str(UnknownKey("x")) == "unknown key id 'x'"


def test_keyring_file_round_trip_is_0600_and_outside_repo(tmp_path: Path, keyring: Keyring) -> None:
    path = keyring.save(tmp_path / "keys" / "ring.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Keyring.load(path)
    assert [k.key_id for k in loaded.keys] == [k.key_id for k in keyring.keys]
    assert loaded.signing_key().sign(b"data") == keyring.signing_key().sign(b"data")


def test_keyring_refuses_to_write_secrets_inside_the_repository(keyring: Keyring) -> None:
    target = REPO / "tests" / "signing" / "should-not-exist.json"
    with pytest.raises(ConfigurationError, match="git work tree"):
        keyring.save(target)
    assert not target.exists()


def test_public_keyring_may_live_in_the_repository(tmp_path: Path, keyring: Keyring) -> None:
    """No private key in a public ring, so the repository check does not apply."""
    public = keyring.public()
    assert not public.has_secrets
    data = public.to_json()
    assert all("private" not in k for k in data["keys"])


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"format": "other", "keys": []}',
        '{"format": "diabetes-risk-model/keyring/v1", "keys": [{"key_id": "a", "alg": "rsa", "created": "x"}]}',
        '{"format": "diabetes-risk-model/keyring/v1", "keys": [{"key_id": "a", "alg": "hmac-sha256", '
        '"created": "2026-01-01T00:00:00Z", "secret": "c2hvcnQ="}]}',
        '{"format": "diabetes-risk-model/keyring/v1", "keys": [{"key_id": "a", "alg": "ed25519", '
        '"created": "2026-01-01T00:00:00Z", "public": "c2hvcnQ="}]}',
        '{"format": "diabetes-risk-model/keyring/v1", "keys": [{"key_id": "a", "alg": "ecdsa-p256", '
        '"created": "2026-01-01T00:00:00Z", "public": "c2hvcnQ="}]}',
    ],
)
def test_malformed_keyring_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "ring.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError) as info:
        Keyring.load(path)
    assert "c2hvcnQ" not in str(info.value)


def test_from_env(tmp_path: Path, keyring: Keyring) -> None:
    ring_path = keyring.save(tmp_path / "ring.json")
    ring = Keyring.from_env({"MODEL_KEYRING": str(ring_path), "PARAMETERS_SIGNING_KEY": "s" * 40})
    assert {k.key_id for k in ring.keys} == {"ec-2026", "p384-2025", "old-2024"}  # the HMAC secret is not a key
    with pytest.raises(MissingEnvironmentVariable, match="MODEL_KEYRING"):
        Keyring.from_env({})
    with pytest.raises(MissingEnvironmentVariable, match="MODEL_KEYRING"):
        Keyring.from_env({"PARAMETERS_SIGNING_KEY": "s" * 40})


def test_invalid_key_ids_and_duplicates() -> None:
    with pytest.raises(ConfigurationError):
        Key.generate("bad id with spaces")
    key = Key.generate("a")
    with pytest.raises(ConfigurationError, match="duplicate"):
        Keyring([key, key])
