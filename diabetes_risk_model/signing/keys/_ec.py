"""ECDSA as OMS uses it: NIST P-256/P-384/P-521 with SHA-256/384/512, DER signatures, PEM public keys.

All cryptography is done by ``cryptography``; this module only fixes the choices the OpenSSF Model Signing
format makes (curve → hash, the key "hint" = hex SHA-256 of the PEM SubjectPublicKeyInfo bytes) and turns
library exceptions into ours, so every caller refuses the same way.

Signatures we *make* are deterministic (RFC 6979, so the same package content gives the same file) and
normalised to low-S (``s <= n/2``): ECDSA signatures are malleable (``(r, s)``
and ``(r, n - s)`` both verify), and our package verifier requires the low-S form so that one signed
content has exactly one package file. Signatures made by other tools are accepted in either form by the
generic OMS verifier (the reference signer does not normalise).
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from diabetes_risk_model.errors import BadSignature, UnsupportedKey

CURVES: dict[str, ec.EllipticCurve] = {
    "ecdsa-p256": ec.SECP256R1(),
    "ecdsa-p384": ec.SECP384R1(),
    "ecdsa-p521": ec.SECP521R1(),
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}
_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16
    ),
    "secp521r1": int(
        "01FF" + "FFFFFFFF" * 7 + "FFFFFFFA" + "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16
    ),
}


def alg_of(public: ec.EllipticCurvePublicKey) -> str:
    """Our algorithm name for a supported curve; :class:`UnsupportedKey` otherwise."""
    for alg, curve in CURVES.items():
        if public.curve.name == curve.name:
            return alg
    raise UnsupportedKey("public key uses an unsupported elliptic curve (P-256, P-384 or P-521 only)")


def _ecdsa(public: ec.EllipticCurvePublicKey) -> ec.ECDSA:
    alg_of(public)
    return ec.ECDSA(_HASHES[public.curve.name]())


def sign(private: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """DER ECDSA signature with the curve's hash, deterministic (RFC 6979) where OpenSSL has it, low-S."""
    public = private.public_key()
    try:
        der = private.sign(data, ec.ECDSA(_HASHES[public.curve.name](), deterministic_signing=True))
    except UnsupportedAlgorithm:  # OpenSSL < 3.2: random k, still a valid signature
        der = private.sign(data, _ecdsa(public))
    r, s = decode_dss_signature(der)
    n = _ORDERS[public.curve.name]
    return encode_dss_signature(r, min(s, n - s))


def check_der(public: ec.EllipticCurvePublicKey, signature: bytes, *, low_s: bool) -> None:
    """Refuse a signature that is not exactly one DER ``SEQUENCE {r, s}`` (and, if asked, not low-S)."""
    try:
        r, s = decode_dss_signature(signature)
    except (ValueError, TypeError):
        raise BadSignature("signature is not a valid DER ECDSA signature") from None
    if encode_dss_signature(r, s) != signature:
        raise BadSignature("signature is not in canonical DER form")
    if low_s and s > _ORDERS[public.curve.name] // 2:
        raise BadSignature("signature is not in canonical low-S form")


def verify(public: ec.EllipticCurvePublicKey, signature: bytes, data: bytes, *, low_s: bool = False) -> bool:
    """True if *signature* (strict DER) is valid for *data*; malformed signatures raise :class:`BadSignature`."""
    check_der(public, signature, low_s=low_s)
    try:
        public.verify(signature, data, _ecdsa(public))
    except InvalidSignature:
        return False
    return True


def public_pem(public: ec.EllipticCurvePublicKey | Ed25519PublicKey) -> bytes:
    """PEM SubjectPublicKeyInfo: the form ``model_signing --public_key`` takes."""
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def hint(public: ec.EllipticCurvePublicKey | Ed25519PublicKey) -> str:
    """``verificationMaterial.publicKey.hint``: hex SHA-256 of the PEM SubjectPublicKeyInfo bytes."""
    return hashlib.sha256(public_pem(public)).hexdigest()


def load_public_pem(data: bytes) -> ec.EllipticCurvePublicKey:
    """An elliptic-curve public key of a supported curve from PEM; :class:`UnsupportedKey` otherwise."""
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise UnsupportedKey("public key file is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UnsupportedKey("public key is not an elliptic-curve key (OMS key signatures use ECDSA)")
    alg_of(key)
    return key
