"""Keyring behaviour: the newest key signs, the public view, env and file sources, 0600, no secrets in repr or
in the repository."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from diabetes_risk_model.errors import (
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
    assert keyring.signing_key().key_id == "ed-2026"
    manifest = verify_package(make_package(), verify_ring).manifest
    assert (manifest.key_id, manifest.alg) == ("ed-2026", "ed25519")
    ring = keyring.retire("ed-2026")
    assert ring.signing_key().key_id == "hmac-2026"


def test_public_view_cannot_sign_with_ed25519(keyring: Keyring) -> None:
    public = Keyring([k for k in keyring.keys if k.alg == "ed25519"]).public()
    assert not public.has_secrets
    with pytest.raises(ConfigurationError):
        public.signing_key()
    hmac_only = Keyring([k for k in keyring.keys if k.alg == "hmac-sha256"]).public()
    assert hmac_only.has_secrets  # documented: HMAC keys are symmetric and stay


def test_repr_and_errors_never_show_key_material(keyring: Keyring, hmac_key: Key, ed_key: Key) -> None:
    assert hmac_key.secret is not None
    text = repr(keyring) + repr(hmac_key) + repr(ed_key)
    assert hmac_key.secret.hex() not in text and "secret" not in text.lower()
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
    """No secrets in an Ed25519-only public ring, so the repository check does not apply."""
    public = Keyring([k for k in keyring.keys if k.alg == "ed25519"]).public()
    assert not public.has_secrets
    data = public.to_json()
    assert all("private" not in k and "secret" not in k for k in data["keys"])


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"format": "other", "keys": []}',
        '{"format": "diabetes-risk-model/keyring/v1", "keys": [{"key_id": "a", "alg": "rsa", "created": "x"}]}',
        '{"format": "diabetes-risk-model/keyring/v1", "keys": [{"key_id": "a", "alg": "hmac-sha256", '
        '"created": "2026-01-01T00:00:00Z", "secret": "c2hvcnQ="}]}',
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
    secret = "s" * 40
    ring = Keyring.from_env(
        {"MODEL_KEYRING": str(ring_path), "PARAMETERS_SIGNING_KEY": secret, "PARAMETERS_SIGNING_KEY_ID": "env-key"}
    )
    assert {k.key_id for k in ring.keys} == {"ed-2026", "hmac-2026", "old-2024", "env-key"}
    assert ring.legacy_key_id == "env-key"
    assert ring.signing_key().key_id == "ed-2026"  # the env key sorts oldest
    only_env = Keyring.from_env({"PARAMETERS_SIGNING_KEY": secret})
    assert [k.key_id for k in only_env.keys] == ["default"]
    with pytest.raises(MissingEnvironmentVariable):
        Keyring.from_env({})
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        Keyring.from_env({"PARAMETERS_SIGNING_KEY": "short"})


def test_invalid_key_ids_and_duplicates() -> None:
    with pytest.raises(ConfigurationError):
        Key.generate("bad id with spaces", "ed25519")
    key = Key.generate("a", "ed25519")
    with pytest.raises(ConfigurationError, match="duplicate"):
        Keyring([key, key])
