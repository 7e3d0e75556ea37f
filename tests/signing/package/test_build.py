"""Package round trips: build, verify, capture exactly the verified bytes, rotate."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from diabetes_risk_model.errors import (
    ConfigurationError,
    RetiredKey,
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
from diabetes_risk_model.unpickling import restricted_loads
from tests.support.signing import NAME, PV, VERSION
from tests.support.ziptools import regions


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
    assert restricted_loads(verified.model_bytes) == pickle.loads(member_files["model.pkl"].read_bytes())
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
    assert restricted_loads(verified.model_bytes)["bias"] == 0.5
    assert verified.model_bytes is not None and verified.model_bytes.readonly


def test_capture_model_false_keeps_no_bytes(base_package: Path, verify_ring: Keyring) -> None:
    verified = verify_package(base_package, verify_ring, capture_model=False)
    assert verified.model_bytes is None


def test_build_refuses_bad_inputs(tmp_path: Path, keyring: Keyring, member_files) -> None:
    base = {
        "name": NAME,
        "version": VERSION,
        "parameters_version": PV,
        "model_pickle": member_files["model.pkl"],
        "keyring": keyring,
    }
    for extra in (
        {"model.sig": member_files["metrics.json"]},
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
    new_key = Key.generate("ec-2027", "ecdsa-p256", created=datetime(2027, 1, 1, tzinfo=UTC))
    ring = keyring.with_key(new_key)
    rotated = rotate_package(original, ring, tmp_path / "rotated")
    after_ring = ring.retire("ec-2026").public()
    after = verify_package(rotated, after_ring, Expectation(NAME, VERSION, PV, min_sequence=before.sequence))
    assert isinstance(after.manifest, Manifest) and isinstance(before, Manifest)
    assert after.manifest.key_id == "ec-2027"
    assert after.manifest.sequence == before.sequence  # kept on purpose (see rotate_package)
    assert after.manifest.members == before.members
    with pytest.raises(RetiredKey):
        verify_package(original, after_ring)
    in_place = rotate_package(original, ring)
    assert in_place == original and verify_package(original, after_ring).manifest.key_id == "ec-2027"


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
    assert [s["keyid"] for s in envelope["signatures"]] == ["ec-2026"]
    assert set(bundle["verificationMaterial"]["publicKey"]) == {"hint"}
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    predicate = statement["predicate"]
    assert set(predicate) == {"resources", "serialization"}  # the v1.0 predicate is closed
    assert predicate["serialization"] == {
        "method": "files",
        "hash_type": "sha256",
        "allow_symlinks": False,
        "ignore_paths": [".git", ".gitattributes", ".github", ".gitignore", "model.sig"],
    }
    assert [r["name"] for r in predicate["resources"]] == names[:-1]  # every other member, sorted
    assert all(set(r["annotations"]) == {"diabetes-risk-model/zip-member/v1"} for r in predicate["resources"])
    subject = statement["subject"]
    assert [s["name"] for s in subject] == [f"{NAME}-{VERSION}-{PV}"]  # the extracted package's basename
    bindings = subject[0]["annotations"]["diabetes-risk-model/package/v1"]
    assert bindings["sequence"] == 100 and bindings["model"] == "model.pkl"
    assert verify_package(base_package, verify_ring).manifest.format == "oms-v1"


def test_package_files_are_written_atomically(tmp_path: Path, make_package: Callable[..., Path]) -> None:
    make_package(output_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [package_file_name(NAME, VERSION, PV)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert os.access(tmp_path / package_file_name(NAME, VERSION, PV), os.R_OK)
