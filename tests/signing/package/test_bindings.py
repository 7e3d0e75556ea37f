"""The oms-v1 package format with ECDSA keys: keys and their PEM export, the package signature's strictness
(one encoding per signature), v1 packages still verifying with one deprecation line, rotation converting them."""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from diabetes_risk_model.cli import main
from diabetes_risk_model.errors import BadSignature, ConfigurationError, MalformedBundle, RetiredKey
from diabetes_risk_model.signing import Expectation, Key, Keyring, Manifest, rotate_package, verify_package
from diabetes_risk_model.signing.keys import ec
from diabetes_risk_model.signing.oms._bundle import Bundle
from diabetes_risk_model.signing.oms._verify import verify_model
from diabetes_risk_model.signing.package._archive import COMPRESSION_NAMES
from diabetes_risk_model.signing.package._envelope import PAYLOAD_TYPE, Envelope
from diabetes_risk_model.signing.package._manifest import MemberEntry
from diabetes_risk_model.signing.package._zip_writer import CanonicalZipWriter
from diabetes_risk_model.unpickling import restricted_loads
from tests.support.signing import NAME, PV, VERSION
from tests.support.ziptools import members_of, raw_zip

EC = Key.generate("ec-1", "ecdsa-p256", created=datetime(2026, 3, 1, tzinfo=UTC))
RING = Keyring([EC])


@pytest.mark.parametrize("alg", ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521"])
def test_ecdsa_keys_round_trip_and_public_view_cannot_sign(alg: str, tmp_path: Path) -> None:
    key = Key.generate("k", alg)
    ring = Keyring([key])
    ring.save(tmp_path / "ring.json")
    loaded = Keyring.load(tmp_path / "ring.json")
    assert loaded.signing_key().public_pem() == key.public_pem()
    signature = loaded.signing_key().sign(b"data")
    public = loaded.public()
    assert not public.has_secrets
    public.verifier_for("k").verify(b"data", signature)
    with pytest.raises(ConfigurationError):
        public.signing_key()
    with pytest.raises(BadSignature):
        public.verifier_for("k").verify(b"other", signature)
    assert "private" not in json.dumps(public.to_json())


def test_keyring_refuses_mismatched_ecdsa_material() -> None:
    p256 = Key.generate("a", "ecdsa-p256").to_json()
    with pytest.raises(ConfigurationError):
        Key.from_json({**p256, "alg": "ecdsa-p384"})
    other = Key.generate("b", "ecdsa-p256").to_json()
    with pytest.raises(ConfigurationError, match="does not match"):
        Key.from_json({**p256, "public": other["public"]})


def test_keygen_defaults_to_ecdsa_and_public_writes_pem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ring = tmp_path / "keys" / "ring.json"
    assert main(["keygen", "--key-id", "k1", "--keyring", str(ring)]) == 0
    assert Keyring.load(ring).verifier_for("k1").alg == "ecdsa-p256"
    assert main(["public", "--keyring", str(ring), "--key-id", "k1", "--pem", str(tmp_path / "k1.pem")]) == 0
    pem = (tmp_path / "k1.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----") and b"PRIVATE" not in pem
    assert ec.load_public_pem(pem).curve.name == "secp256r1"
    capsys.readouterr()
    assert main(["public", "--keyring", str(ring), "--key-id", "k1"]) == 2  # --pem missing
    assert main(["keygen", "--alg", "hmac", "--key-id", "h1", "--keyring", str(ring)]) == 0
    assert main(["public", "--keyring", str(ring), "--key-id", "h1", "--pem", str(tmp_path / "h.pem")]) == 3
    assert "symmetric" in capsys.readouterr().err


def test_ecdsa_package_binds_everything_and_refuses_a_retired_key(
    make_package: Callable[..., Path], tmp_path: Path
) -> None:
    package = make_package(keyring=RING, output_dir=tmp_path)
    verified = verify_package(package, RING.public(), Expectation(NAME, VERSION, PV, min_sequence=100))
    m = verified.manifest
    assert (m.format, m.key_id, m.alg, m.sequence) == ("oms-v1", "ec-1", "ecdsa-p256", 100)
    assert restricted_loads(verified.model_bytes) is not None
    with pytest.raises(RetiredKey):
        verify_package(package, RING.retire("ec-1"))


def test_same_content_gives_the_same_package_bytes(make_package: Callable[..., Path], tmp_path: Path) -> None:
    """Deterministic ECDSA (RFC 6979): one content, one file (created is to the second, so retry once)."""
    for _ in range(2):
        a = make_package(keyring=RING, output_dir=tmp_path / "a")
        b = make_package(keyring=RING, output_dir=tmp_path / "b")
        if a.read_bytes() == b.read_bytes():
            return
    pytest.fail("two builds of the same content differ")


def _replace_signature(package: Path, out: Path, change: Callable[[bytes], bytes]) -> Path:
    *members, (name, data, deflate) = members_of(package.read_bytes())
    out.write_bytes(raw_zip([(n.encode(), d, f) for n, d, f in [*members, (name, change(data), deflate)]]))
    return out


def test_high_s_twin_of_a_valid_signature_is_refused_in_packages_but_fine_for_oms(
    make_package: Callable[..., Path], tmp_path: Path
) -> None:
    """(r, n - s) verifies mathematically; our package format allows only low-S so one content has one file."""
    package = make_package(keyring=RING, output_dir=tmp_path)

    def high_s(data: bytes) -> bytes:
        bundle = Bundle.parse_canonical(data)
        r, s = decode_dss_signature(bundle.signature)
        twin = encode_dss_signature(r, ec._ORDERS["secp256r1"] - s)
        return Bundle(bundle.payload, twin, bundle.keyid, bundle.hint).to_bytes()

    twin = _replace_signature(package, tmp_path / "twin.zip", high_s)
    with pytest.raises(BadSignature, match="low-S"):
        verify_package(twin, RING)
    root = tmp_path / "x"
    root.mkdir()
    for name, data, _ in members_of(twin.read_bytes()):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (tmp_path / "pub.pem").write_bytes(EC.public_pem())
    assert verify_model(root, root / "model.sig", EC.public_pem()).files


def test_re_encoded_signature_file_is_refused(make_package: Callable[..., Path], tmp_path: Path) -> None:
    package = make_package(keyring=RING, output_dir=tmp_path)
    for label, change in {
        "spaces": lambda d: json.dumps(json.loads(d)).encode(),
        "key-order": lambda d: json.dumps(dict(reversed(list(json.loads(d).items()))), separators=(",", ":")).encode(),
        "extra-signature": lambda d: d.replace(b'"signatures":[', b'"signatures":[{"keyid":"","sig":"MAA="},'),
    }.items():
        with pytest.raises(MalformedBundle):
            verify_package(_replace_signature(package, tmp_path / f"{label}.zip", change), RING)


def _v1_package(make_package: Callable[..., Path], out: Path, key: Key) -> Path:
    """A package in the previous format (manifest.json), written as the previous version did."""
    current = make_package(keyring=Keyring([key]), output_dir=out / "src")
    verified = verify_package(current, Keyring([key])).manifest
    assert isinstance(verified, Manifest)
    path = out / current.name
    with open(path, "wb") as stream:
        writer = CanonicalZipWriter(stream)
        entries = []
        for name, data, deflate in members_of(current.read_bytes())[:-1]:
            w = writer.add_chunks(name, [data], compress=deflate)
            entries.append(
                MemberEntry(
                    w.name,
                    w.size,
                    w.sha256,
                    COMPRESSION_NAMES[w.method],
                    w.compressed_size,
                    w.compressed_sha256,
                    w.crc32,
                )
            )
        manifest = Manifest(
            name=verified.name,
            version=verified.version,
            parameters_version=verified.parameters_version,
            sequence=verified.sequence,
            created=verified.created,
            key_id=key.key_id,
            alg=key.alg,
            members=tuple(entries),
            requirements=verified.requirements,
        )
        payload = manifest.to_bytes()
        unsigned = Envelope(payload, PAYLOAD_TYPE, key.key_id, key.alg, b"")
        envelope = Envelope(payload, PAYLOAD_TYPE, key.key_id, key.alg, key.sign(unsigned.signed_bytes()))
        writer.add_chunks("manifest.json", [envelope.to_bytes()])
        writer.close()
    return path


def test_v1_package_verifies_with_one_deprecation_line_and_rotate_converts_it(
    make_package: Callable[..., Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ed = Key.generate("ed-old", "ed25519", created=datetime(2025, 1, 1, tzinfo=UTC))
    old = _v1_package(make_package, tmp_path, ed)
    ring = Keyring([ed, EC])
    with caplog.at_level(logging.WARNING):
        verified = verify_package(old, ring.public(), Expectation(NAME, VERSION, PV))
    assert verified.manifest.format == "v1" and restricted_loads(verified.model_bytes) is not None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "deprecated" in warnings[0].getMessage() and "rotate" in warnings[0].getMessage()

    rotated = rotate_package(old, ring, tmp_path / "new")
    new = verify_package(rotated, ring.retire("ed-old").public(), Expectation(NAME, VERSION, PV))
    assert (new.manifest.format, new.manifest.key_id) == ("oms-v1", "ec-1")
    assert new.manifest.sequence == verified.manifest.sequence
    assert new.manifest.members == verified.manifest.members  # type: ignore[union-attr]
    with zipfile.ZipFile(rotated) as archive:
        assert archive.namelist()[-1] == "model.sig" and "manifest.json" not in archive.namelist()
