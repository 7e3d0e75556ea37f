"""Verify any OMS elliptic-key signature over a model file or directory (``verify-oms``). Nothing is unpickled.

Checks, in this order (each failure a :class:`~diabetes_risk_model.errors.VerificationError` subclass):

1. the signature file is a sigstore bundle v0.3 with a DSSE envelope of in-toto JSON (:class:`MalformedBundle`);
2. the public key is ECDSA on P-256/P-384/P-521 (:class:`UnsupportedKey`) and is the key the bundle names:
   ``publicKey.hint`` equals the hex SHA-256 of its PEM, or the older ``publicKey.rawBytes`` is exactly its
   PEM and ``keyDetails`` names its curve (:class:`UnsupportedKey`);
3. the first DSSE signature is strict DER and valid over the DSSE PAE (or, for model-signing 0.2
   signatures, over its compat encoding) with the curve's hash (:class:`BadSignature`);
4. the statement parses, names are safe, the subject digest matches the resources
   (:class:`MalformedBundle`, :class:`UnsafeResourceName`, :class:`InconsistentStatement`);
5. the files on disk, minus ignored paths, are exactly the resources (:class:`MissingMember`,
   :class:`UnexpectedMember`) with the same digests (:class:`DigestMismatch` naming the file).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography.hazmat.primitives.asymmetric import ec as _ec

from diabetes_risk_model.errors import BadSignature, DigestMismatch, MissingMember, UnexpectedMember, UnsupportedKey
from diabetes_risk_model.signing.keys import ec
from diabetes_risk_model.signing.oms._bundle import Bundle, pae, pae_compat
from diabetes_risk_model.signing.oms._files import hash_model, relative_ignores
from diabetes_risk_model.signing.oms._statement import PREDICATE_TYPE_COMPAT, Statement, parse_statement

KEY_DETAILS = {
    "ecdsa-p256": "PKIX_ECDSA_P256_SHA_256",
    "ecdsa-p384": "PKIX_ECDSA_P384_SHA_384",
    "ecdsa-p521": "PKIX_ECDSA_P521_SHA_512",
}


@dataclass(frozen=True)
class OmsResult:
    """What was verified: the statement, the files checked, and which compatibility paths were taken."""

    statement: Statement
    files: tuple[str, ...]
    key_form: str  # "hint" or "rawBytes"
    compat_pae: bool


def verify_bundle(bundle: Bundle, public: _ec.EllipticCurvePublicKey) -> bool:
    """Steps 2-3: the key is the bundle's and the first signature is valid. Returns True for compat PAE."""
    if bundle.hint is not None:
        if not hmac.compare_digest(bundle.hint, ec.hint(public)):
            raise UnsupportedKey("the public key is not the key named by the signature (publicKey.hint differs)")
    elif bundle.raw_key is not None and not hmac.compare_digest(bundle.raw_key, ec.public_pem(public)):
        raise UnsupportedKey("the public key is not the key in the signature (publicKey.rawBytes differs)")
    if bundle.key_details is not None and bundle.key_details != KEY_DETAILS[ec.alg_of(public)]:
        raise UnsupportedKey("the signature's publicKey.keyDetails does not match the public key's curve")
    if ec.verify(public, bundle.signature, pae(bundle.payload)):
        return False
    if ec.verify(public, bundle.signature, pae_compat(bundle.payload)):
        return True
    raise BadSignature("signature does not match the public key (the first DSSE signature is checked)")


def compare_files(expected: Mapping[str, str], actual: Mapping[str, str]) -> None:
    """Step 5: exactly the signed files, each with its signed digest."""
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    if missing:
        raise MissingMember([ascii(m)[1:-1] for m in missing])
    if unexpected:
        raise UnexpectedMember([ascii(u)[1:-1] for u in unexpected])
    for name in sorted(expected):
        if not hmac.compare_digest(expected[name], actual[name]):
            raise DigestMismatch(ascii(name)[1:-1], "sha256")


def verify_model(
    model: Path, signature: Path, public_key_pem: bytes, ignore_paths: Iterable[str | Path] = ()
) -> OmsResult:
    """Verify *model* (file or directory) against the OMS *signature* with *public_key_pem*."""
    model, signature = Path(model), Path(signature)
    public = ec.load_public_pem(public_key_pem)
    bundle = Bundle.parse(signature.read_bytes())
    compat = verify_bundle(bundle, public)
    statement = parse_statement(bundle.payload)
    ignore: list[PurePosixPath | str] = [*relative_ignores(model, [*ignore_paths, signature])]
    ignore.extend(statement.ignore_paths)
    actual = hash_model(model, ignore)
    if statement.predicate_type == PREDICATE_TYPE_COMPAT and set(actual) == {"."}:
        actual = {model.name: actual["."]}  # 0.2 named a single file by its file name
    compare_files(statement.digests(), actual)
    return OmsResult(statement, tuple(sorted(actual)), "hint" if bundle.hint else "rawBytes", compat)
