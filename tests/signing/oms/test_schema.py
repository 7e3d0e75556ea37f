"""Every OMS statement we write conforms to OMS v1.0: the spec's JSON Schemas (``jsonschema`` is the oracle)
and the spec-text rules they cannot say (:mod:`tests.support.oms_spec`). The spec's own vectors calibrate
the check (valid ones pass, invalid ones fail) and our verifier (valid key and certificate vectors verify
over the files they sign, every invalid one is refused)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from diabetes_risk_model.errors import MalformedBundle, VerificationError
from diabetes_risk_model.signing import Key, Keyring, verify_package
from diabetes_risk_model.signing.keys import ec
from diabetes_risk_model.signing.oms import (
    Bundle,
    CertificateTrust,
    OmsSigner,
    Resource,
    canonical_json,
    pae,
    sign_model,
    statement_json,
    verify_model,
)
from tests.support.oms_spec import VECTORS, statement_of, violations
from tests.support.pki import NOW, make_pki
from tests.support.signing import SHARED
from tests.support.ziptools import members_of

GOLDEN_KEY = SHARED / "oms" / "signing-key-pub.pem"
VALID = sorted((VECTORS / "valid").glob("*.json"))
INVALID = sorted((VECTORS / "invalid").glob("*.json")) + sorted((VECTORS / "invalid-payload").glob("*.json"))


def test_the_spec_vectors_calibrate_the_check() -> None:
    assert [p.name for p in VALID] == ["certificate.bundle.json", "key.bundle.json", "sigstore.bundle.json"]
    assert len(INVALID) == 5
    for path in VALID:
        assert violations(path.read_bytes()) == [], path.name
    for path in INVALID:
        assert violations(path.read_bytes()), f"{path.name} passed the check"


def _spec_model(tmp_path: Path) -> Path:
    """The two files the spec's key and certificate vectors sign (their digests are in the vectors)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "signme-1").write_bytes(b"signme-1\n")
    (model / "signme-2").write_bytes(b"signme-2")
    (model / "ignore-me").write_bytes(b"listed in the vectors' ignore_paths")
    return model


def test_our_verifier_accepts_the_valid_vectors_and_refuses_the_invalid_ones(tmp_path: Path) -> None:
    model = _spec_model(tmp_path)
    key = verify_model(model, VECTORS / "valid" / "key.bundle.json", GOLDEN_KEY.read_bytes())
    assert key.files == ("signme-1", "signme-2") and key.key_form == "hint"
    # the certificate vector ships its signing certificate and intermediate, not its root: trust the intermediate
    chain = json.loads((VECTORS / "valid" / "certificate.bundle.json").read_bytes())
    ders = [
        base64.b64decode(c["rawBytes"]) for c in chain["verificationMaterial"]["x509CertificateChain"]["certificates"]
    ]
    trust = CertificateTrust((x509.load_der_x509_certificate(ders[1]),))
    cert = verify_model(model, VECTORS / "valid" / "certificate.bundle.json", trust=trust, now=NOW)
    assert cert.files == ("signme-1", "signme-2") and cert.key_form == "certificate"
    with pytest.raises(MalformedBundle, match="sigstore signing method"):
        verify_model(model, VECTORS / "valid" / "sigstore.bundle.json", GOLDEN_KEY.read_bytes())
    for path in INVALID:
        with pytest.raises(VerificationError):
            verify_model(model, path, GOLDEN_KEY.read_bytes(), trust=trust, now=NOW)


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda s: s["predicate"].update(resources=[]), "§5.2.1: resources must contain at least one"),
        (lambda s: s["predicate"]["resources"].reverse(), "§5.2.1: resources must be sorted"),
        (lambda s: s["predicate"]["resources"][0].update(name="./a.bin"), "§6.1.2: resource name './a.bin'"),
        (lambda s: s["predicate"]["resources"][0].update(name="x/../a.bin"), "§6.1.2: resource name 'x/../a.bin'"),
        (lambda s: s["subject"][0]["digest"].update(sha256="00" * 32), "§6.5.1"),
        (lambda s: s["predicate"].update(package={}), "Additional properties are not allowed ('package'"),
        (lambda s: s["predicate"]["serialization"].pop("allow_symlinks"), "'allow_symlinks' is a required property"),
    ],
    ids=["no-resources", "unsorted", "dot-slash", "dot-dot", "root-digest", "predicate-extra", "no-allow-symlinks"],
)
def test_the_check_names_each_rule(change: Callable[[dict], object], rule: str) -> None:
    """The rules can fail: a conforming statement, changed once, is reported for exactly that rule."""
    private = make_pki().leaf.key
    statement = statement_json("m", [Resource("a.bin", "ab" * 32), Resource("b.bin", "cd" * 32)])
    good = Bundle(canonical_json(statement), b"sig", hint="h").to_bytes()
    assert violations(good) == []
    change(statement)
    payload = canonical_json(statement)
    bad = Bundle(payload, ec.sign(private, pae(payload)), hint="h").to_bytes()
    found = violations(bad)
    assert len(found) >= 1 and any(rule in line for line in found), found


# -- everything we write -------------------------------------------------------------------------------------


def _package_statements(make_package: Callable[..., Path], tmp_path: Path) -> dict[str, bytes]:
    pki = make_pki()
    key = Key("signer", "ecdsa-p256", datetime(2026, 1, 1, tzinfo=UTC), private=pki.leaf.key)
    by_key = make_package(keyring=Keyring([Key.generate("ec", "ecdsa-p384")]), output_dir=tmp_path / "k")
    by_cert = make_package(keyring=Keyring([key]), output_dir=tmp_path / "c", certificate_chain=pki.chain_der())
    verify_package(by_cert, CertificateTrust((pki.root.certificate,)), now=NOW)
    return {f"package-{label}": members_of(p.read_bytes())[-1][1] for label, p in (("key", by_key), ("cert", by_cert))}


def _sign_oms_statements(tmp_path: Path) -> dict[str, tuple[bytes, bool]]:
    pki = make_pki()
    model = tmp_path / "model"
    (model / "weights").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "weights" / "part 0.bin").write_bytes(b"\x01" * 100)
    (model / ".gitignore").write_text("*.tmp\n")
    (model / "cache").mkdir()
    (model / "cache" / "x.tmp").write_text("ignored")
    single = tmp_path / "model.onnx"
    single.write_bytes(b"onnx")
    out: dict[str, tuple[bytes, bool]] = {}
    for label, signer in (
        ("key", OmsSigner(pki.leaf.key)),
        ("cert", OmsSigner(pki.leaf.key, pki.leaf.certificate, (pki.intermediate.certificate,))),
    ):
        directory = sign_model(model, model / "model.sig", signer, [model / "cache"])
        out[f"sign-oms-{label}-dir"] = (directory, False)
        out[f"sign-oms-{label}-file"] = (sign_model(single, tmp_path / f"{label}.sig", signer), True)
    return out


def test_every_statement_we_write_conforms(make_package: Callable[..., Path], tmp_path: Path) -> None:
    written = {k: (v, False) for k, v in _package_statements(make_package, tmp_path).items()}
    written |= _sign_oms_statements(tmp_path)
    assert len(written) == 6
    for label, (data, single) in written.items():
        assert violations(data, single_file=single) == [], label
    statements = {k: statement_of(json.loads(v)) for k, (v, _) in written.items()}
    assert statements["sign-oms-key-dir"]["subject"][0]["name"] == "model"  # §6.5: the model path's basename
    assert statements["sign-oms-key-file"]["subject"][0]["name"] == "model.onnx"
    assert [r["name"] for r in statements["sign-oms-key-file"]["predicate"]["resources"]] == ["model.onnx"]
    assert statements["sign-oms-key-dir"]["predicate"]["serialization"]["ignore_paths"] == [
        ".git",
        ".gitattributes",
        ".github",
        ".gitignore",
        "cache",
        "model.sig",
    ]
    assert statements["package-key"]["predicate"]["serialization"]["ignore_paths"][-1] == "model.sig"
