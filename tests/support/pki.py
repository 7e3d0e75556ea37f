"""A small X.509 PKI built with ``cryptography`` for the certificate-method tests: root → intermediate → leaf.

Every certificate is valid over a window around a fixed moment (:data:`NOW`) unless a test asks otherwise;
tests pass ``now=NOW`` to our verifier, and write PEM files for the reference tool (which validates at the
leaf's own ``notBefore``, so the fixed window works for it too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
START, END = NOW - timedelta(days=30), NOW + timedelta(days=365)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass
class Issued:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def issue(
    subject: str,
    issuer: Issued | None,
    *,
    ca: bool,
    start: datetime = START,
    end: datetime = END,
    key_usage: dict[str, bool] | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    san: list[x509.GeneralName] | None = None,
    curve: ec.EllipticCurve | None = None,
) -> Issued:
    """One certificate; ``issuer=None`` makes it self-signed. CA certificates get keyCertSign; signing
    certificates get digitalSignature and codeSigning unless *key_usage* / *eku* say otherwise."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.certificate.subject if issuer else _name(subject)
    usage = {"digital_signature": not ca, "key_cert_sign": ca, "crl_sign": ca} | (key_usage or {})
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=usage["digital_signature"],
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=usage["key_cert_sign"],
                crl_sign=usage["crl_sign"],
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(eku if eku is not None else [ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


@dataclass
class Pki:
    """root → intermediate → leaf (a signing certificate for ``ml-signer@example.org``)."""

    root: Issued
    intermediate: Issued
    leaf: Issued
    files: dict[str, Path] = field(default_factory=dict)

    def chain_der(self, leaf: Issued | None = None) -> list[bytes]:
        return [(leaf or self.leaf).der, self.intermediate.der]

    def write(self, directory: Path) -> dict[str, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        contents = {
            "root.pem": self.root.pem,
            "intermediate.pem": self.intermediate.pem,
            "leaf.pem": self.leaf.pem,
            "leaf-key.pem": self.leaf.key_pem,
        }
        for name, data in contents.items():
            (directory / name).write_bytes(data)
        self.files = {name: directory / name for name in contents}
        return self.files


IDENTITY = "ml-signer@example.org"


WIDE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, tzinfo=UTC))
"""A validity window for tests that go through the CLI or the reference tool (they validate at the current time)."""


def make_pki(curve: ec.EllipticCurve | None = None, window: tuple[datetime, datetime] | None = None) -> Pki:
    """root → intermediate → leaf, valid around :data:`NOW` (or over *window*, e.g. :data:`WIDE`)."""
    start, end = window or (START, END)
    root = issue("Test Root CA", None, ca=True, start=start - timedelta(days=365), end=end + timedelta(days=365))
    intermediate = issue(
        "Test Signing CA", root, ca=True, start=start - timedelta(days=30), end=end + timedelta(days=30)
    )
    leaf = issue(
        "ML signer", intermediate, ca=False, start=start, end=end, san=[x509.RFC822Name(IDENTITY)], curve=curve
    )
    return Pki(root, intermediate, leaf)
