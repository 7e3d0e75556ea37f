"""Verify any OMS ``key`` or ``certificate`` signature over a model file or directory (``verify-oms``).

Nothing is unpickled. Checks, in this order (each failure a
:class:`~diabetes_risk_model.errors.VerificationError` subclass):

1. the signature file is a sigstore bundle v0.3 with a DSSE envelope of in-toto JSON (:class:`MalformedBundle`);
2. the key: for the ``key`` method, the given public key is ECDSA on P-256/P-384/P-521
   (:class:`UnsupportedKey`) and is the key the bundle names (``publicKey.hint`` equals the hex SHA-256 of its
   PEM, or the older ``publicKey.rawBytes`` is exactly its PEM and ``keyDetails`` names its curve); for the
   ``certificate`` method, the bundle's signing certificate chains to a given trust anchor
   (:mod:`._certificates`, :class:`CertificateRefused` and its subclasses) and its key is used;
3. the first DSSE signature is strict DER and valid over the DSSE PAE (or, for model-signing 0.2
   signatures, over its compat encoding) with the curve's hash (:class:`BadSignature`);
4. the statement parses, has at least one resource, names are safe, the subject digest matches the
   resources (:class:`MalformedBundle`, :class:`UnsafeResourceName`, :class:`InconsistentStatement`);
5. the files on disk, minus ignored paths, are exactly the resources (:class:`MissingMember`,
   :class:`UnexpectedMember`; with ``ignore_unsigned_files`` only missing ones count) with the same digests
   (:class:`DigestMismatch` naming the file). A single-file model's resource may be named by the file's
   name (spec) or ``.`` (model-signing).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from cryptography.hazmat.primitives.asymmetric import ec as _ec

from diabetes_risk_model.errors import BadSignature, DigestMismatch, MissingMember, UnexpectedMember, UnsupportedKey
from diabetes_risk_model.signing.keys import ec
from diabetes_risk_model.signing.oms._bundle import Bundle, pae, pae_compat
from diabetes_risk_model.signing.oms._certificates import CertificateTrust, signing_public_key
from diabetes_risk_model.signing.oms._files import hash_model, relative_ignores
from diabetes_risk_model.signing.oms._statement import SINGLE_FILE, Statement, parse_statement

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
    key_form: str  # "hint", "rawBytes" or "certificate"
    compat_pae: bool
    unsigned: tuple[str, ...] = ()  # files present but not signed (only with ignore_unsigned_files)


def verify_bundle(bundle: Bundle, public: _ec.EllipticCurvePublicKey) -> bool:
    """Steps 2-3: the key is the bundle's and the first signature is valid. Returns True for compat PAE."""
    if bundle.certificates:
        raise UnsupportedKey("the signature uses the certificate method: verify it with trust anchors, not a key")
    if bundle.hint is not None:
        if not hmac.compare_digest(bundle.hint, ec.hint(public)):
            raise UnsupportedKey("the public key is not the key named by the signature (publicKey.hint differs)")
    elif bundle.raw_key is not None and not hmac.compare_digest(bundle.raw_key, ec.public_pem(public)):
        raise UnsupportedKey("the public key is not the key in the signature (publicKey.rawBytes differs)")
    if bundle.key_details is not None and bundle.key_details != KEY_DETAILS[ec.alg_of(public)]:
        raise UnsupportedKey("the signature's publicKey.keyDetails does not match the public key's curve")
    return check_signature(bundle, public)


def check_signature(bundle: Bundle, public: _ec.EllipticCurvePublicKey) -> bool:
    """Step 3 with an already trusted key. Returns True for the model-signing 0.2 compat PAE."""
    if ec.verify(public, bundle.signature, pae(bundle.payload)):
        return False
    if ec.verify(public, bundle.signature, pae_compat(bundle.payload)):
        return True
    raise BadSignature("signature does not match the public key (the first DSSE signature is checked)")


def compare_files(expected: Mapping[str, str], actual: Mapping[str, str], *, unsigned_ok: bool = False) -> None:
    """Step 5: exactly the signed files (or at least them, if *unsigned_ok*), each with its signed digest."""
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    if missing:
        raise MissingMember([ascii(m)[1:-1] for m in missing])
    if unexpected and not unsigned_ok:
        raise UnexpectedMember([ascii(u)[1:-1] for u in unexpected])
    for name in sorted(expected):
        if not hmac.compare_digest(expected[name], actual[name]):
            raise DigestMismatch(ascii(name)[1:-1], "sha256")


def verify_model(
    model: Path,
    signature: Path,
    public_key_pem: bytes | None = None,
    ignore_paths: Iterable[str | Path] = (),
    *,
    trust: CertificateTrust | None = None,
    ignore_unsigned_files: bool = False,
    ignore_git_paths: bool = True,
    now: datetime | None = None,
) -> OmsResult:
    """Verify *model* (file or directory) against the OMS *signature*: a ``key`` bundle with
    *public_key_pem*, a ``certificate`` bundle with *trust* (validated at *now*, default the current time)."""
    model, signature = Path(model), Path(signature)
    bundle = Bundle.parse(signature.read_bytes())
    if bundle.certificates:
        if trust is None:
            raise UnsupportedKey("the signature uses the certificate method: give trust anchors (--certificate-chain)")
        compat = check_signature(bundle, signing_public_key(bundle.certificates, trust, now))
        form = "certificate"
    else:
        if public_key_pem is None:
            raise UnsupportedKey("the signature uses the key method: give the public key (--public-key)")
        compat = verify_bundle(bundle, ec.load_public_pem(public_key_pem))
        form = "hint" if bundle.hint else "rawBytes"
    statement = parse_statement(bundle.payload)
    ignore: list[PurePosixPath | str] = [*relative_ignores(model, [*ignore_paths, signature])]
    ignore.extend(statement.ignore_paths)
    actual = hash_model(model, ignore, git_paths=ignore_git_paths)
    if model.is_file() and [r.name for r in statement.resources] == [SINGLE_FILE]:
        actual = {SINGLE_FILE: next(iter(actual.values()))}  # model-signing names a single file "."
    expected = statement.digests()
    compare_files(expected, actual, unsigned_ok=ignore_unsigned_files)
    signed = tuple(sorted(set(actual) & set(expected)))
    return OmsResult(statement, signed, form, compat, tuple(sorted(set(actual) - set(expected))))
