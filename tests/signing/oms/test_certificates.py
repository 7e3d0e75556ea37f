"""The OMS ``certificate`` method: attacks first, then interop with model-signing 1.1.1 both ways.

The attacker can write the bucket (the model and its signature), may hold a leaked signing key, and can run
a CA of their own. Each certificate the verifier must not trust gets its own refusal (a
:class:`CertificateRefused` subclass), one line and exit 1 from the CLI. Path validation itself is
``cryptography``'s; these tests build a root → intermediate → leaf PKI with ``cryptography``
(:mod:`tests.support.pki`).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec as _ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from diabetes_risk_model.cli import main
from diabetes_risk_model.errors import (
    BadSignature,
    CertificateChainInvalid,
    CertificateExpired,
    CertificateIdentityMismatch,
    CertificateNotYetValid,
    CertificateRefused,
    CertificateUsageRefused,
    ConfigurationError,
    DigestMismatch,
    UnsupportedKey,
    UntrustedCertificate,
)
from diabetes_risk_model.signing.keys import ec
from diabetes_risk_model.signing.oms import Bundle, CertificateTrust, OmsSigner, pae_compat, sign_model, verify_model
from tests.support.pki import IDENTITY, NOW, WIDE, Issued, Pki, issue, make_pki

MODEL_SIGNING = Path(sys.executable).parent / "model_signing"
PKI = make_pki()
TRUST = CertificateTrust((PKI.root.certificate,))


def _model(root: Path) -> Path:
    (root / "weights").mkdir(parents=True)
    (root / "config.json").write_text('{"layers": 2}')
    (root / "weights" / "part-0.bin").write_bytes(bytes(range(256)) * 8)
    return root


def _signed(tmp_path: Path, leaf: Issued, chain: tuple[Issued, ...]) -> tuple[Path, Path]:
    model = _model(tmp_path / "model")
    signer = OmsSigner(leaf.key, leaf.certificate, tuple(c.certificate for c in chain))
    sign_model(model, model / "model.sig", signer)
    return model, model / "model.sig"


def _other_ca(name: str = "Test Signing CA") -> Issued:
    """A CA the attacker runs, whose root the verifier does not trust (same names as ours where asked)."""
    return issue(name, issue("Attacker Root", None, ca=True), ca=True)


def _cases() -> dict[str, tuple[Issued, tuple[Issued, ...], type[CertificateRefused]]]:
    i = PKI.intermediate
    attacker = _other_ca()
    not_a_ca = issue("Another signer", i, ca=False)
    old_intermediate = issue(
        "Old Signing CA", PKI.root, ca=True, start=NOW - timedelta(days=900), end=NOW - timedelta(days=1)
    )
    return {
        "own-ca-untrusted-root": (issue("ML signer", attacker, ca=False), (attacker,), UntrustedCertificate),
        "expired": (issue("ML signer", i, ca=False, end=NOW - timedelta(seconds=1)), (i,), CertificateExpired),
        "not-yet-valid": (issue("ML signer", i, ca=False, start=NOW + timedelta(days=1)), (i,), CertificateNotYetValid),
        "no-digital-signature": (
            issue("ML signer", i, ca=False, key_usage={"digital_signature": False}),
            (i,),
            CertificateUsageRefused,
        ),
        "tls-server-only": (
            issue("ML signer", i, ca=False, eku=[ExtendedKeyUsageOID.SERVER_AUTH]),
            (i,),
            CertificateUsageRefused,
        ),
        # a same-named CA of the attacker's issued the leaf; the genuine intermediate rides along
        "forged-issuer-genuine-intermediate": (issue("ML signer", attacker, ca=False), (i,), CertificateChainInvalid),
        "issued-by-a-non-ca": (issue("ML signer", not_a_ca, ca=False), (not_a_ca, i), CertificateChainInvalid),
        "expired-intermediate": (
            issue("ML signer", old_intermediate, ca=False),
            (old_intermediate,),
            CertificateChainInvalid,
        ),
        "missing-intermediate": (PKI.leaf, (), UntrustedCertificate),
    }


CASES = _cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_untrustworthy_certificates_are_refused(case: str, tmp_path: Path) -> None:
    leaf, chain, expected = CASES[case]
    model, signature = _signed(tmp_path, leaf, chain)
    with pytest.raises(CertificateRefused) as info:
        verify_model(model, signature, trust=TRUST, now=NOW)
    assert type(info.value) is expected, f"{type(info.value).__name__}: {info.value}"


def test_identity_is_required_exactly(tmp_path: Path) -> None:
    model, signature = _signed(tmp_path, PKI.leaf, (PKI.intermediate,))
    for identity in (IDENTITY, PKI.leaf.certificate.subject.rfc4514_string()):
        verify_model(model, signature, trust=CertificateTrust(TRUST.anchors, identity), now=NOW)
    for identity in ("ml-signer@example.org.evil", "ML signer", "CN=ML signer", "attacker@example.org"):
        with pytest.raises(CertificateIdentityMismatch):
            verify_model(model, signature, trust=CertificateTrust(TRUST.anchors, identity), now=NOW)


def test_a_leaked_key_without_a_certificate_is_not_enough(tmp_path: Path) -> None:
    """The attacker holds the leaf's key: a key bundle (or a self-made certificate) is still refused."""
    model, signature = _signed(tmp_path, PKI.leaf, (PKI.intermediate,))
    sign_model(model, signature, OmsSigner(PKI.leaf.key))  # key method, same key
    with pytest.raises(UnsupportedKey, match="key method"):
        verify_model(model, signature, trust=TRUST, now=NOW)
    self_made = issue("ML signer", None, ca=False)
    self_made = Issued(self_made.certificate, self_made.key)
    sign_model(model, signature, OmsSigner(self_made.key, self_made.certificate))
    with pytest.raises(UntrustedCertificate):
        verify_model(model, signature, trust=TRUST, now=NOW)


def test_swapped_certificate_or_changed_file_is_refused(tmp_path: Path) -> None:
    model, signature = _signed(tmp_path, PKI.leaf, (PKI.intermediate,))
    verify_model(model, signature, trust=TRUST, now=NOW)
    other = issue("ML signer", PKI.intermediate, ca=False, san=[x509.RFC822Name(IDENTITY)])
    bundle = Bundle.parse(signature.read_bytes())
    signature.write_bytes(
        Bundle(bundle.payload, bundle.signature, certificates=(other.der, PKI.intermediate.der)).to_bytes()
    )
    with pytest.raises(BadSignature, match="does not match"):  # a trusted certificate, but not the signer's
        verify_model(model, signature, trust=TRUST, now=NOW)
    model, signature = _signed(tmp_path / "2", PKI.leaf, (PKI.intermediate,))
    (model / "config.json").write_text('{"layers": 3}')
    with pytest.raises(DigestMismatch, match=r"config\.json"):
        verify_model(model, signature, trust=TRUST, now=NOW)


def test_certificate_bundle_needs_trust_anchors_and_key_bundle_a_key(tmp_path: Path) -> None:
    model, signature = _signed(tmp_path, PKI.leaf, (PKI.intermediate,))
    with pytest.raises(UnsupportedKey, match="certificate method"):
        verify_model(model, signature, ec.public_pem(PKI.leaf.key.public_key()))
    with pytest.raises(ConfigurationError):
        CertificateTrust(())
    with pytest.raises(ConfigurationError, match="does not match"):
        OmsSigner(_ec.generate_private_key(_ec.SECP256R1()), PKI.leaf.certificate)


# -- the CLI ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pki, dict[str, Path]]:
    """A PKI valid 2000-2099: the CLI and the reference tool check at the current time."""
    pki = make_pki(window=WIDE)
    return pki, pki.write(tmp_path_factory.mktemp("pki"))


def _verify_cli(model: Path, signature: Path, *extra: str) -> int:
    return main(["verify-oms", str(model), "--signature", str(signature), *extra])


def test_cli_sign_and_verify_by_certificate_and_refusals_are_one_line(
    wide: tuple[Pki, dict[str, Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, files = wide
    model = _model(tmp_path / "model")
    sign = ["sign-oms", "certificate", str(model), "--signature", str(tmp_path / "model.sig")]
    sign += ["--private-key", str(files["leaf-key.pem"]), "--signing-certificate", str(files["leaf.pem"])]
    assert main([*sign, "--certificate-chain", str(files["intermediate.pem"])]) == 0
    root = ["--certificate-chain", str(files["root.pem"])]
    assert _verify_cli(model, tmp_path / "model.sig", *root, "--identity", IDENTITY) == 0
    assert "method certificate" in capsys.readouterr().out
    for extra, code, text in (
        ([*root, "--identity", "someone@example.org"], 1, "refused (CertificateIdentityMismatch)"),
        (["--certificate-chain", str(files["intermediate.pem"])], 0, ""),  # trusting the intermediate is enough
        (["--public-key", str(files["leaf.pem"])], 1, "refused (UnsupportedKey): the signature uses the certificate"),
        ([*root, "--public-key", str(files["leaf.pem"])], 2, "either --public-key"),
        (["--public-key", str(files["leaf.pem"]), "--identity", IDENTITY], 2, "--identity needs --certificate-chain"),
        (["--certificate-chain", str(files["leaf-key.pem"])], 3, "no readable PEM certificate"),
    ):
        capsys.readouterr()
        assert _verify_cli(model, tmp_path / "model.sig", *extra) == code, extra
        err = capsys.readouterr().err
        if code:
            assert err.count("\n") == 1 and text in err and "Traceback" not in err, err
    other = make_pki(window=WIDE).write(tmp_path / "other")
    assert _verify_cli(model, tmp_path / "model.sig", "--certificate-chain", str(other["root.pem"])) == 1
    assert "refused (UntrustedCertificate)" in capsys.readouterr().err


# -- interop with model-signing 1.1.1 (the reference, a test oracle) ------------------------------------------


def _reference(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MODEL_SIGNING), *args], capture_output=True, text=True, timeout=120, check=False)


def test_reference_certificate_signature_verifies_with_us(wide: tuple[Pki, dict[str, Path]], tmp_path: Path) -> None:
    _, files = wide
    model = _model(tmp_path / "model")
    signed = _reference(
        "sign", "certificate", str(model), "--signature", str(model / "model.sig"),
        "--private_key", str(files["leaf-key.pem"]), "--signing_certificate", str(files["leaf.pem"]),
        "--certificate_chain", str(files["intermediate.pem"]),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    trust = CertificateTrust.from_pem(files["root.pem"].read_bytes(), IDENTITY)
    assert verify_model(model, model / "model.sig", trust=trust).files == ("config.json", "weights/part-0.bin")
    assert _verify_cli(model, model / "model.sig", "--certificate-chain", str(files["root.pem"])) == 0
    (model / "weights" / "part-0.bin").write_bytes(b"changed")
    with pytest.raises(DigestMismatch):
        verify_model(model, model / "model.sig", trust=trust)


@pytest.mark.parametrize("curve", [_ec.SECP256R1(), _ec.SECP384R1()], ids=["p256", "p384"])
def test_our_certificate_signature_verifies_with_the_reference(curve: _ec.EllipticCurve, tmp_path: Path) -> None:
    pki = make_pki(curve=curve, window=WIDE)
    files = pki.write(tmp_path / "pki")
    model = _model(tmp_path / "model")
    signer = OmsSigner(pki.leaf.key, pki.leaf.certificate, (pki.intermediate.certificate,))
    sign_model(model, model / "model.sig", signer)
    verify = ["verify", "certificate", str(model), "--signature", str(model / "model.sig")]
    result = _reference(*verify, "--certificate_chain", str(files["root.pem"]))
    assert result.returncode == 0 and "Verification succeeded" in result.stdout, result.stderr
    (model / "config.json").write_text("{}")
    assert _reference(*verify, "--certificate_chain", str(files["root.pem"])).returncode == 1
    assert json.loads((model / "model.sig").read_bytes())["verificationMaterial"]["tlogEntries"] == []


def test_expired_certificate_the_reference_accepts_is_refused_by_us(
    wide: tuple[Pki, dict[str, Path]], tmp_path: Path
) -> None:
    """The reference validates the chain at the signing certificate's own notBefore, so it accepts a
    certificate that expired in 2020; we refuse it (spec §8.2: the leaf MUST be within its validity period)."""
    pki, files = wide
    start = datetime(2020, 1, 1, tzinfo=UTC)
    leaf = issue("ML signer", pki.intermediate, ca=False, start=start, end=start + timedelta(days=1))
    model, signature = _signed(tmp_path, leaf, (pki.intermediate,))
    verify = ["verify", "certificate", str(model), "--signature", str(signature)]
    assert _reference(*verify, "--certificate_chain", str(files["root.pem"])).returncode == 0
    with pytest.raises(CertificateExpired):
        verify_model(model, signature, trust=CertificateTrust((pki.root.certificate,)))
    assert _verify_cli(model, signature, "--certificate-chain", str(files["root.pem"])) == 1


def test_historical_certificate_bundles_keep_verifying(tmp_path: Path) -> None:
    """Forms older producers wrote (spec §11): ``keyid`` null or absent, ``tlogEntries`` absent, any JSON
    formatting, and model-signing 0.2's per-file subjects over its compat PAE — with a certificate chain."""
    model, signature = _signed(tmp_path, PKI.leaf, (PKI.intermediate,))
    raw = json.loads(signature.read_bytes())
    del raw["verificationMaterial"]["tlogEntries"]
    for keyid in (None, "absent"):
        if keyid == "absent":
            del raw["dsseEnvelope"]["signatures"][0]["keyid"]
        else:
            raw["dsseEnvelope"]["signatures"][0]["keyid"] = None
        signature.write_text(json.dumps(raw, indent=4))
        assert verify_model(model, signature, trust=TRUST, now=NOW).key_form == "certificate"
    subjects = [
        {"name": name, "digest": {"sha256": hashlib.sha256((model / name).read_bytes()).hexdigest()}}
        for name in ("config.json", "weights/part-0.bin")
    ]
    payload = json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subjects,
            "predicateType": "https://model_signing/Digests/v0.1",
        }
    ).encode()
    compat = Bundle(payload, ec.sign(PKI.leaf.key, pae_compat(payload)), certificates=tuple(PKI.chain_der()))
    (tmp_path / "v02.sig").write_bytes(compat.to_bytes())
    result = verify_model(model, tmp_path / "v02.sig", None, [signature], trust=TRUST, now=NOW)
    assert result.compat_pae and result.files == ("config.json", "weights/part-0.bin")
