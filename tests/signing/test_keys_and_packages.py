"""Keyring behaviour (newest key signs, public view, env and file sources, 0600, no secrets in repr or in
the repository) and package round trips (build, verify, load exactly the verified bytes, rotate)."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import stat
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from diabetes_risk_model.errors import (
    ConfigurationError,
    MissingEnvironmentVariable,
    RetiredKey,
    UnknownKey,
    UnsafeArchive,
    VerificationError,
)
from diabetes_risk_model.signing import (
    Expectation,
    Key,
    Keyring,
    Manifest,
    build_package,
    package_file_name,
    rotate_package,
    verify_package,
)

from .conftest import NAME, PV, REPO, VERSION
from .ziptools import regions


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


def test_round_trip_and_manifest_contents(base_package: Path, verify_ring: Keyring, member_files) -> None:
    verified = verify_package(base_package, verify_ring, Expectation(NAME, VERSION, PV, min_sequence=100))
    m = verified.manifest
    assert isinstance(m, Manifest)
    assert base_package.name == package_file_name(NAME, VERSION, PV)
    assert (m.name, m.version, m.parameters_version, m.sequence) == (NAME, VERSION, PV, 100)
    assert {e.path for e in m.members} == set(member_files)  # every member, the pickle included, is signed
    assert all(s.ok for s in verified.members)
    assert m.member("model.pkl").compression == "stored"
    assert m.member("data_report.html").compression == "deflate"
    assert verified.load_model() == pickle.loads(member_files["model.pkl"].read_bytes())
    with zipfile.ZipFile(base_package) as archive:  # still an ordinary zip
        assert archive.testzip() is None
        assert archive.read("metrics.json") == member_files["metrics.json"].read_bytes()
        assert [i.filename for i in archive.infolist()][-1] == "model.sig"
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and not i.extra and not i.comment for i in archive.infolist())


def _member_regions(data: bytes) -> dict[tuple[str, str | None], bytes]:
    """Every local header, member data and central record except model.sig's (its bytes hold the signature)."""
    return {(r.kind, r.member): data[r.start : r.end] for r in regions(data) if r.member not in (None, "model.sig")}


def _statement(data: bytes) -> dict:
    bundle = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("model.sig"))
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))


def test_build_is_deterministic_for_the_same_inputs(make_package: Callable[..., Path], tmp_path: Path) -> None:
    """Same inputs and the same ``created`` => identical members and the same signed statement."""
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = make_package(output_dir=tmp_path / "a", created=created)
    second = make_package(output_dir=tmp_path / "b", created=created)
    a, b = first.read_bytes(), second.read_bytes()
    assert _member_regions(a) == _member_regions(b)
    assert _statement(a) == _statement(b)


def test_build_members_do_not_depend_on_the_clock(make_package: Callable[..., Path], tmp_path: Path) -> None:
    """Two builds a second apart (the clock ticked between them) differ only in model.sig."""
    first = make_package(output_dir=tmp_path / "a", created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    second = make_package(output_dir=tmp_path / "b", created=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC))
    a, b = first.read_bytes(), second.read_bytes()
    assert _member_regions(a) == _member_regions(b)
    assert _statement(a) != _statement(b)


def test_build_refuses_a_naive_or_fractional_created(make_package: Callable[..., Path]) -> None:
    for created in (datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC)):
        with pytest.raises(ConfigurationError, match="created"):
            make_package(created=created)


def test_loaded_model_comes_from_the_verified_bytes_not_the_file(
    tmp_path: Path, make_package: Callable[..., Path], verify_ring: Keyring
) -> None:
    package = make_package(output_dir=tmp_path)
    verified = verify_package(package, verify_ring)
    package.write_bytes(b"replaced after verification")  # swap the file under our feet
    assert verified.load_model()["bias"] == 0.5
    assert verified.model_bytes is not None and verified.model_bytes.readonly


def test_capture_model_false_keeps_no_bytes(base_package: Path, verify_ring: Keyring) -> None:
    verified = verify_package(base_package, verify_ring, capture_model=False)
    assert verified.model_bytes is None
    with pytest.raises(VerificationError):
        verified.load_model()


def test_build_refuses_bad_inputs(tmp_path: Path, keyring: Keyring, member_files) -> None:
    base = {
        "name": NAME,
        "version": VERSION,
        "parameters_version": PV,
        "model_pickle": member_files["model.pkl"],
        "keyring": keyring,
    }
    for extra in (
        {"manifest.json": member_files["metrics.json"]},
        {"model.pkl": member_files["metrics.json"]},
        {"signed_model.pkl": member_files["metrics.json"]},
    ):
        with pytest.raises(ConfigurationError, match="reserved"):
            build_package(tmp_path, extra_members=extra, **base)
    with pytest.raises(UnsafeArchive):
        build_package(tmp_path, extra_members={"../x": member_files["metrics.json"]}, **base)
    with pytest.raises(ConfigurationError):
        build_package(tmp_path, extra_members={"a.txt": tmp_path / "missing"}, **base)
    with pytest.raises(ConfigurationError):
        build_package(tmp_path, extra_members={}, **{**base, "version": "1.0/../../x"})
    with pytest.raises(ConfigurationError):
        build_package(tmp_path, extra_members={}, **{**base, "keyring": Keyring()})
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_default_sequence_grows_and_requirements_are_recorded(
    make_package: Callable[..., Path], verify_ring: Keyring
) -> None:
    first = verify_package(make_package(sequence=None, requirements=None), verify_ring).manifest
    second = verify_package(make_package(sequence=None), verify_ring).manifest
    assert second.sequence > first.sequence > 1_700_000_000_000
    assert {"python", "scikit-learn", "numpy", "pandas", "pycaret"} <= set(first.requirements)


def test_rotate_re_signs_without_changing_members(
    tmp_path: Path, make_package: Callable[..., Path], keyring: Keyring
) -> None:
    original = make_package(output_dir=tmp_path / "orig")
    before = verify_package(original, keyring).manifest
    new_key = Key.generate("ed-2027", "ed25519", created=datetime(2027, 1, 1, tzinfo=UTC))
    ring = keyring.with_key(new_key)
    rotated = rotate_package(original, ring, tmp_path / "rotated")
    after_ring = ring.retire("ed-2026").public()
    after = verify_package(rotated, after_ring, Expectation(NAME, VERSION, PV, min_sequence=before.sequence))
    assert isinstance(after.manifest, Manifest) and isinstance(before, Manifest)
    assert after.manifest.key_id == "ed-2027"
    assert after.manifest.sequence == before.sequence  # kept on purpose (see rotate_package)
    assert after.manifest.members == before.members
    with pytest.raises(RetiredKey):
        verify_package(original, after_ring)
    in_place = rotate_package(original, ring)
    assert in_place == original and verify_package(original, after_ring).manifest.key_id == "ed-2027"


def test_rotate_refuses_unverified_packages(
    tmp_path: Path, make_package: Callable[..., Path], keyring: Keyring
) -> None:
    package = make_package(output_dir=tmp_path)
    data = bytearray(package.read_bytes())
    data[40] ^= 1
    package.write_bytes(bytes(data))
    with pytest.raises(VerificationError):
        rotate_package(package, keyring)


def test_signature_is_a_canonical_oms_bundle(base_package: Path, verify_ring: Keyring) -> None:
    with zipfile.ZipFile(base_package) as archive:
        raw = archive.read("model.sig")
        names = [i.filename for i in archive.infolist()]
    bundle = json.loads(raw)
    assert raw == json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    envelope = bundle["dsseEnvelope"]
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert [s["keyid"] for s in envelope["signatures"]] == ["ed-2026"]
    assert set(bundle["verificationMaterial"]["publicKey"]) == {"hint"}
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    predicate = statement["predicate"]
    assert predicate["serialization"] == {"method": "files", "hash_type": "sha256", "allow_symlinks": False}
    assert [r["name"] for r in predicate["resources"]] == names[:-1]  # every other member, sorted
    assert predicate["package"]["sequence"] == 100 and predicate["package"]["model"] == "model.pkl"
    assert verify_package(base_package, verify_ring).manifest.format == "oms-v1"


def test_package_files_are_written_atomically(tmp_path: Path, make_package: Callable[..., Path]) -> None:
    make_package(output_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [package_file_name(NAME, VERSION, PV)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert os.access(tmp_path / package_file_name(NAME, VERSION, PV), os.R_OK)
