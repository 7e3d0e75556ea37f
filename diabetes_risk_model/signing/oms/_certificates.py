"""The OMS ``certificate`` method: which key a certificate bundle's signature is checked with.

A bundle carries its signing certificate first and the chain after it (DER). The verifier holds trust
anchors (CA certificates, PEM) and optionally an identity the signing certificate must name. The path is
validated by ``cryptography`` (:class:`cryptography.x509.verification.PolicyBuilder`, RFC 5280 / CA/B
web-PKI profile), never by hand: chain building, signatures, validity periods of every certificate, CA
basic constraints and key usage, name constraints and chain depth.

What the profile of a *signing* certificate adds, checked before the path is built so that each refusal
says what is wrong (every one a :class:`~diabetes_risk_model.errors.CertificateRefused`):

* an ECDSA P-256/P-384/P-521 key (:class:`~diabetes_risk_model.errors.UnsupportedKey`);
* usable for signing: ``keyUsage`` (if present) asserts ``digitalSignature``, and ``extendedKeyUsage`` (if
  present) lists ``codeSigning``; at least one of the two is present (:class:`CertificateUsageRefused`);
* the verification time lies within its validity period (:class:`CertificateExpired`,
  :class:`CertificateNotYetValid`);
* a path to a trust anchor exists: :class:`UntrustedCertificate` when no certificate of the bundle is issued
  by an anchor's subject, :class:`CertificateChainInvalid` when one is but the path does not validate;
* with an identity: the certificate's subject (RFC 4514 string) or one of its subjectAltName values
  (e-mail, DNS name, URI) equals it exactly (:class:`CertificateIdentityMismatch`).

Unlike the reference verifier (which validates the chain at the certificate's own ``notBefore``), the
verification time is *now* (or the caller's ``now``): an expired signing certificate is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec as _ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
from cryptography.x509.verification import VerificationError as _PathError

from diabetes_risk_model.errors import (
    CertificateChainInvalid,
    CertificateExpired,
    CertificateIdentityMismatch,
    CertificateNotYetValid,
    CertificateUsageRefused,
    ConfigurationError,
    MalformedBundle,
    UnsupportedKey,
    UntrustedCertificate,
)
from diabetes_risk_model.signing._time import now_utc
from diabetes_risk_model.signing.keys import ec

MAX_CHAIN_DEPTH = 8


@dataclass(frozen=True)
class CertificateTrust:
    """Trust anchors (CA certificates) and the identity the signing certificate must carry (``None``: any)."""

    anchors: tuple[x509.Certificate, ...]
    identity: str | None = None

    def __post_init__(self) -> None:
        if not self.anchors:
            raise ConfigurationError("certificate trust needs at least one CA certificate (trust anchor)")
        if self.identity is not None and not self.identity:
            raise ConfigurationError("the required certificate identity is empty")

    @classmethod
    def from_pem(cls, pem: bytes, identity: str | None = None) -> CertificateTrust:
        """Anchors from one or more concatenated PEM certificates; :class:`ConfigurationError` otherwise."""
        return cls(load_pem_certificates(pem, "trust anchor"), identity)


def load_pem_certificates(pem: bytes, what: str) -> tuple[x509.Certificate, ...]:
    """One or more PEM certificates; :class:`ConfigurationError` naming *what* if there are none."""
    try:
        certificates = tuple(x509.load_pem_x509_certificates(pem))
    except ValueError:
        raise ConfigurationError(f"{what} file holds no readable PEM certificate") from None
    return certificates


def signing_public_key(
    chain_der: Sequence[bytes], trust: CertificateTrust, now: datetime | None = None
) -> _ec.EllipticCurvePublicKey:
    """The signing certificate's public key, once the whole chain is trusted (see the module docstring)."""
    try:
        chain = [x509.load_der_x509_certificate(der) for der in chain_der]
    except ValueError:
        raise MalformedBundle("a certificate in x509CertificateChain is not DER X.509") from None
    leaf, intermediates = chain[0], chain[1:]
    public = leaf.public_key()
    if not isinstance(public, _ec.EllipticCurvePublicKey):
        raise UnsupportedKey("signing certificate's key is not an elliptic-curve key (ECDSA P-256/384/521)")
    ec.alg_of(public)
    _check_usage(leaf)
    moment = now or now_utc()
    if moment < leaf.not_valid_before_utc:
        raise CertificateNotYetValid(f"signing certificate is not valid before {leaf.not_valid_before_utc.isoformat()}")
    if moment > leaf.not_valid_after_utc:
        raise CertificateExpired(f"signing certificate expired at {leaf.not_valid_after_utc.isoformat()}")
    verifier = (
        PolicyBuilder()
        .store(Store(list(trust.anchors)))
        .time(moment)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_signing_ee_policy())
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except _PathError:
        if not any(_issued_by_anchor(c, trust.anchors) for c in chain):
            raise UntrustedCertificate("signing certificate does not chain to a trusted CA certificate") from None
        raise CertificateChainInvalid("signing certificate's chain to the trusted CA does not validate") from None
    if trust.identity is not None and trust.identity not in identities(leaf):
        raise CertificateIdentityMismatch("signing certificate does not carry the required identity")
    return public


def identities(certificate: x509.Certificate) -> tuple[str, ...]:
    """The subject (RFC 4514) and every e-mail, DNS and URI subjectAltName of *certificate*."""
    names = [certificate.subject.rfc4514_string()]
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return tuple(names)
    for kind in (x509.RFC822Name, x509.DNSName, x509.UniformResourceIdentifier):
        names.extend(san.get_values_for_type(kind))
    return tuple(names)


def _issued_by_anchor(certificate: x509.Certificate, anchors: Sequence[x509.Certificate]) -> bool:
    """Whether *certificate* is an anchor or is signed by one (to tell an untrusted root from a broken chain;
    the path itself is validated by ``cryptography`` only)."""
    for anchor in anchors:
        if certificate == anchor:
            return True
        try:
            certificate.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def _check_usage(leaf: x509.Certificate) -> None:
    extensions = leaf.extensions
    try:
        usage: x509.KeyUsage | None = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    try:
        purposes: x509.ExtendedKeyUsage | None = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        purposes = None
    if usage is None and purposes is None:
        raise CertificateUsageRefused("signing certificate has neither keyUsage nor extendedKeyUsage")
    if usage is not None and not usage.digital_signature:
        raise CertificateUsageRefused("signing certificate's keyUsage does not allow digitalSignature")
    if purposes is not None and ExtendedKeyUsageOID.CODE_SIGNING not in purposes:
        raise CertificateUsageRefused("signing certificate's extendedKeyUsage does not list codeSigning")


def _no_check(*_: object) -> None:
    """Usage is checked by :func:`_check_usage` (with its own refusals) before the path is built."""


def _not_an_issuer(_policy: object, certificate: x509.Certificate, value: x509.BasicConstraints | None) -> None:
    """A signing certificate may assert ``cA`` (the spec's own test vector does) only if it cannot issue
    certificates: no ``keyCertSign`` in its key usage."""
    if value is None or not value.ca:
        return
    try:
        if certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            raise ValueError("a signing certificate must not be able to issue certificates (keyCertSign)")
    except x509.ExtensionNotFound:
        raise ValueError("a signing certificate asserting cA must restrict its keyUsage") from None


def _signing_ee_policy() -> ExtensionPolicy:
    """The web-PKI end-entity profile, with the purpose a signing certificate has (not TLS client auth)."""
    return (
        ExtensionPolicy.webpki_defaults_ee()
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _no_check)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _no_check)
        .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
        .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, _not_an_issuer)
    )
