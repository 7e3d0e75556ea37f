"""Packages signed by the OMS ``certificate`` method, verified with trust anchors instead of a keyring; the
service's settings that select it; and the bindings' new home (in-toto annotations), read strictly.

Attacker: write access to the bucket, a leaked signing key, a CA of their own."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from diabetes_risk_model.errors import (
    BadSignature,
    CertificateExpired,
    CertificateIdentityMismatch,
    ConfigurationError,
    MalformedBundle,
    UntrustedCertificate,
)
from diabetes_risk_model.prediction.loading import verification_keyring
from diabetes_risk_model.prediction.settings import ModelSettings
from diabetes_risk_model.signing import CertificateTrust, Expectation, Key, Keyring, verify_package
from diabetes_risk_model.signing.oms import Bundle, canonical_json, pae
from tests.support.pki import IDENTITY, NOW, WIDE, Pki, make_pki
from tests.support.signing import NAME, PV, VERSION
from tests.support.ziptools import members_of, raw_zip

MODEL_SIGNING = Path(sys.executable).parent / "model_signing"


def _signer(pki: Pki) -> Keyring:
    return Keyring([Key("ml-signer", "ecdsa-p256", datetime(2026, 1, 1, tzinfo=UTC), private=pki.leaf.key)])


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki(window=WIDE)


@pytest.fixture(scope="module")
def cert_package(make_package: Callable[..., Path], pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cert")
    return make_package(keyring=_signer(pki), output_dir=out, certificate_chain=pki.chain_der())


def test_certificate_signed_package_verifies_with_trust_anchor_and_identity(cert_package: Path, pki: Pki) -> None:
    trust = CertificateTrust((pki.root.certificate,), IDENTITY)
    verified = verify_package(cert_package, trust, Expectation(NAME, VERSION, PV, min_sequence=100), now=NOW)
    assert (verified.manifest.format, verified.manifest.key_id, verified.manifest.alg) == (
        "oms-v1",
        "ml-signer",
        "ecdsa-p256",
    )
    assert verified.model_bytes is not None
    with pytest.raises(CertificateIdentityMismatch):
        verify_package(cert_package, CertificateTrust((pki.root.certificate,), "someone@example.org"), now=NOW)
    with pytest.raises(UntrustedCertificate):
        verify_package(cert_package, CertificateTrust((make_pki().root.certificate,)), now=NOW)
    with pytest.raises(CertificateExpired):
        verify_package(cert_package, trust, now=datetime(2100, 6, 1, tzinfo=UTC))


def test_methods_do_not_mix(cert_package: Path, pki: Pki, make_package: Callable[..., Path], tmp_path: Path) -> None:
    """A keyring does not accept a certificate package, nor certificate trust a key package (even one signed
    with the certificate's own key: the leaked-key case)."""
    with pytest.raises(BadSignature, match="no certificate trust anchor"):
        verify_package(cert_package, _signer(pki).public())
    by_key = make_package(keyring=_signer(pki), output_dir=tmp_path)
    with pytest.raises(BadSignature, match="only certificates are trusted"):
        verify_package(by_key, CertificateTrust((pki.root.certificate,)), now=NOW)
    with pytest.raises(ConfigurationError, match="not the signing key"):
        make_package(keyring=Keyring([Key.generate("k", "ecdsa-p256")]), certificate_chain=pki.chain_der())


def test_reference_verifies_an_extracted_certificate_package(cert_package: Path, pki: Pki, tmp_path: Path) -> None:
    with zipfile.ZipFile(cert_package) as archive:
        archive.extractall(tmp_path / "pkg")
    (tmp_path / "root.pem").write_bytes(pki.root.pem)
    verify = [str(MODEL_SIGNING), "verify", "certificate", str(tmp_path / "pkg"), "--signature"]
    verify += [str(tmp_path / "pkg" / "model.sig"), "--certificate_chain", str(tmp_path / "root.pem")]
    result = subprocess.run(verify, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


# -- the bindings' layout, read strictly -------------------------------------------------------------------


def _resigned(package: Path, out: Path, key: Key, change: Callable[[dict[str, Any]], None]) -> Path:
    """The package with its statement changed and re-signed by *key* (a leaked key): only our strict reading
    of the bindings stands between the attacker and a package that verifies."""
    *members, (name, data, deflate) = members_of(package.read_bytes())
    bundle = Bundle.parse_canonical(data)
    statement = json.loads(bundle.payload)
    change(statement)
    payload = canonical_json(statement)
    forged = Bundle(payload, key.sign(pae(payload)), keyid=bundle.keyid, hint=bundle.hint).to_bytes()
    out.write_bytes(raw_zip([(n.encode(), d, f) for n, d, f in [*members, (name, forged, deflate)]]))
    return out


def _move_to_predicate(statement: dict[str, Any]) -> None:
    statement["predicate"]["package"] = statement["subject"][0].pop("annotations")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_move_to_predicate, "predicate must be exactly"),  # the previous layout is not read
        (lambda s: s["subject"][0]["annotations"].update({"x-extra": {}}), "annotations must hold exactly"),
        (lambda s: s["subject"][0].update(name="other-0.1.0-x"), "subject[0].name"),
        (lambda s: s["predicate"]["resources"][0]["annotations"].clear(), "annotations must hold exactly"),
        (lambda s: s["predicate"]["resources"][0].update(uri="https://x"), "unexpected fields"),
        (lambda s: s["predicate"]["serialization"].update(ignore_paths=["model.sig"]), "predicate must be exactly"),
        (
            lambda s: s["subject"][0]["annotations"]["diabetes-risk-model/package/v1"].update(sequence=10**9),
            "",
        ),
    ],
    ids=["old-layout", "extra-annotation", "subject-name", "member-annotation", "resource-uri", "ignore", "seq"],
)
def test_re_signed_statements_with_a_changed_layout_are_refused(
    make_package: Callable[..., Path], tmp_path: Path, change: Callable[[dict[str, Any]], object], message: str
) -> None:
    key = Key.generate("ec-1", "ecdsa-p256")
    package = make_package(keyring=Keyring([key]), output_dir=tmp_path / "src")
    forged = _resigned(package, tmp_path / "forged.zip", key, change)
    if message:
        with pytest.raises(MalformedBundle, match=message.replace("[", r"\[").replace("]", r"\]")):
            verify_package(forged, Keyring([key]))
    else:  # a leaked key can sign a higher sequence: that is what rotating the key is for
        assert verify_package(forged, Keyring([key])).manifest.sequence == 10**9


# -- the service's settings -----------------------------------------------------------------------------------


def test_settings_accept_a_trust_anchor_and_an_identity_instead_of_a_keyring(pki: Pki, tmp_path: Path) -> None:
    anchor = tmp_path / "ca.pem"
    anchor.write_bytes(pki.root.pem)
    base = {"model_parameters_version": PV, "minio_url": "http://minio:9000"}
    settings = ModelSettings.parse(**base, trust_anchor_path=str(anchor), signer_identity=IDENTITY)
    trust = verification_keyring(settings)  # the loader reads the anchor, once; parsing opens no file
    assert isinstance(trust, CertificateTrust) and trust.identity == IDENTITY
    for extra, setting in (
        ({"signer_identity": IDENTITY}, "signer_identity"),
        ({"trust_anchor_path": str(anchor), "keyring_path": str(tmp_path / "ring.json")}, "trust_anchor_path"),
        ({"trust_anchor_path": str(tmp_path / "missing.pem")}, "trust_anchor_path"),
    ):
        with pytest.raises(ConfigurationError) as info:
            verification_keyring(ModelSettings.parse(**base, **extra))
        assert info.value.context.get("setting") == setting or setting in str(info.value), extra
    (tmp_path / "not.pem").write_text("not a certificate")
    with pytest.raises(ConfigurationError, match="no readable PEM certificate"):
        verification_keyring(ModelSettings.parse(**base, trust_anchor_path=str(tmp_path / "not.pem")))
