"""The ``oms-v1`` package signature: ``model.sig``, one OMS v1.0 statement that also carries our bindings.

``predicate.resources`` lists every other zip member (name = member path, SHA-256 of the uncompressed
bytes), sorted, so an extracted package verifies with ``model_signing verify``. The v1.0 predicate is closed
(only ``resources`` and ``serialization``), so our bindings live in in-toto ``annotations``, which the
statement schema allows on the subject and the predicate schema allows on every resource descriptor (and
which verifiers ignore, spec §5.2.1):

* ``subject[0].annotations["diabetes-risk-model/package/v1"]``: name, version, parameters version,
  sequence, created, expires, key id, algorithm, which member is the pickle, requirements;
* ``resources[i].annotations["diabetes-risk-model/zip-member/v1"]``: that member's zip metadata (size,
  compression, compressed size, CRC-32, and the SHA-256 of the stored bytes for deflated members), so that
  re-compressed data and header fields are bound too.

``subject[0].name`` is the package's file name without ``.zip`` (the basename an extracted package gets),
``serialization.ignore_paths`` records what is not a resource: the default ``.git*`` exclusions and
``model.sig``. The bundle and the statement are written in one canonical encoding and parsed back strictly:
the bytes of ``model.sig`` must be exactly the encoding of what they parse to, every field of ours exactly
present. The DSSE ``keyid`` is our key id (the verifier uses exactly that key); ``publicKey.hint`` is the
OMS hint of the key, or the bundle carries the signing certificate and its chain
(``certificate`` method) and the verifier's trust anchors decide.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography import x509

from diabetes_risk_model.errors import BadSignature, ConfigurationError, MalformedBundle, VerificationError
from diabetes_risk_model.signing._time import format_time
from diabetes_risk_model.signing.keys import KEY_ID, Key, Keyring, ec
from diabetes_risk_model.signing.oms import (
    GIT_PATHS,
    SERIALIZATION,
    Bundle,
    CertificateTrust,
    Resource,
    canonical_json,
    pae,
    parse_statement,
    signing_public_key,
    statement_json,
)
from diabetes_risk_model.signing.package._limits import DEFAULT_LIMITS, Limits
from diabetes_risk_model.signing.package._manifest import SCHEMA, SIGNATURE_NAME, Manifest

FORMAT = "oms-v1"
PACKAGE_ANNOTATION = "diabetes-risk-model/package/v1"
MEMBER_ANNOTATION = "diabetes-risk-model/zip-member/v1"
IGNORE_PATHS = tuple(sorted((*GIT_PATHS, SIGNATURE_NAME)))
_BINDINGS = ("name", "version", "parameters_version", "sequence", "created", "expires", "key_id", "alg", "model")
_MEMBER_FIELDS = ("size", "compression", "compressed_size", "crc32")

Trust = Keyring | CertificateTrust


def subject_name(manifest: Manifest) -> str:
    """``subject[0].name``: the package file's name without ``.zip``."""
    return f"{manifest.name}-{manifest.version}-{manifest.parameters_version}"


def package_statement(manifest: Manifest) -> dict[str, Any]:
    """The statement of *manifest* with our bindings in annotations (see the module docstring)."""
    legacy = manifest.to_json()
    bindings = {**{k: legacy[k] for k in _BINDINGS}, "requirements": legacy["requirements"]}
    resources = []
    for m in manifest.members:
        zip_fields: dict[str, Any] = {
            "size": m.size,
            "compression": m.compression,
            "compressed_size": m.compressed_size,
            "crc32": m.crc32,
        }
        if m.compression != "stored":
            zip_fields["compressed_sha256"] = m.compressed_sha256
        resources.append(Resource(m.path, m.sha256, annotations={MEMBER_ANNOTATION: zip_fields}))
    return statement_json(
        subject_name(manifest),
        resources,
        ignore_paths=IGNORE_PATHS,
        subject_annotations={PACKAGE_ANNOTATION: bindings},
    )


def sign_package(manifest: Manifest, key: Key, certificates: Sequence[bytes] = ()) -> bytes:
    """The bytes of ``model.sig`` for *manifest*, signed by *key*; with *certificates* (DER, the signing
    certificate first, whose key must be *key*'s) in the ``certificate`` method. Checked by our own parser
    before use."""
    payload = canonical_json(package_statement(manifest))
    signature = key.sign(pae(payload))
    if certificates:
        if key.public is None or ec.public_pem(key.public) != ec.public_pem(_leaf_key(certificates)):
            raise ConfigurationError("the signing certificate's public key is not the signing key's")
        data = Bundle(payload, signature, keyid=key.key_id, certificates=tuple(certificates)).to_bytes()
    else:
        data = Bundle(payload, signature, keyid=key.key_id, hint=key.hint).to_bytes()
    _manifest_from_payload(payload, key.key_id, key.alg, DEFAULT_LIMITS)  # never sign what we would refuse
    return data


def _leaf_key(certificates: Sequence[bytes]) -> Any:
    try:
        return x509.load_der_x509_certificate(certificates[0]).public_key()
    except ValueError:
        raise ConfigurationError("the signing certificate is not DER X.509") from None


def read_package_signature(
    data: bytes, trust: Trust, limits: Limits = DEFAULT_LIMITS, now: datetime | None = None
) -> Manifest:
    """Check ``model.sig`` and return the signed manifest (``format == "oms-v1"``).

    1. canonical bundle (:class:`MalformedBundle`); 2. with a keyring: the key its DSSE ``keyid`` names, not
    retired (:class:`UnknownKey`, :class:`RetiredKey`), whose hint it carries; with certificate trust: the
    bundle's certificate chain (:class:`CertificateRefused`); a bundle of the other method is refused;
    3. the signature, low-S (:class:`BadSignature`); 4. the statement and our bindings, canonical and complete.
    """
    bundle = Bundle.parse_canonical(data)
    if not KEY_ID.fullmatch(bundle.keyid):
        raise MalformedBundle("package signature names an invalid key id")
    if isinstance(trust, CertificateTrust):
        if not bundle.certificates:
            raise BadSignature("package is signed by key, but only certificates are trusted (no keyring)")
        public = signing_public_key(bundle.certificates, trust, now)
        if not ec.verify(public, bundle.signature, pae(bundle.payload), low_s=True):
            raise BadSignature("package signature does not match the signing certificate's key")
        return _manifest_from_payload(bundle.payload, bundle.keyid, ec.alg_of(public), limits)
    if bundle.certificates:
        raise BadSignature("package is signed by certificate, but no certificate trust anchor is configured")
    key = trust.verifier_for(bundle.keyid)
    if not hmac.compare_digest(bundle.hint or "", key.hint):
        raise BadSignature(f"package signature's key hint does not match key {key.key_id!r}")
    key.verify(pae(bundle.payload), bundle.signature)
    return _manifest_from_payload(bundle.payload, key.key_id, key.alg, limits)


def _annotation(value: Any, key: str, what: str) -> dict[str, Any]:
    """``value["annotations"][key]``, which must be the only annotation and a JSON object."""
    annotations = value.get("annotations") if isinstance(value, Mapping) else None
    if not isinstance(annotations, dict) or set(annotations) != {key} or not isinstance(annotations[key], dict):
        raise MalformedBundle(f"package statement: {what} annotations must hold exactly {key}")
    return annotations[key]


def _manifest_from_payload(payload: bytes, key_id: str, alg: str, limits: Limits) -> Manifest:
    statement = parse_statement(payload, limits.max_name_length)
    if canonical_json(json.loads(payload)) != payload:
        raise MalformedBundle("package statement is not in canonical form")
    predicate = dict(statement.predicate)
    serialization = {**SERIALIZATION, "ignore_paths": list(IGNORE_PATHS)}
    if set(predicate) != {"resources", "serialization"} or predicate["serialization"] != serialization:
        raise MalformedBundle("package statement: predicate must be exactly resources and serialization")
    if set(statement.subject) != {"name", "digest", "annotations"} or set(statement.subject["digest"]) != {"sha256"}:
        raise MalformedBundle("package statement: subject has unexpected fields")
    package = _annotation(statement.subject, PACKAGE_ANNOTATION, "subject[0]")
    if set(package) != {*_BINDINGS, "requirements"}:
        raise MalformedBundle(f"package statement: {PACKAGE_ANNOTATION} has missing or unexpected fields")
    members = []
    for raw, resource in zip(predicate["resources"], statement.resources, strict=True):
        if set(raw) != {"name", "digest", "algorithm", "annotations"}:
            raise MalformedBundle(f"package statement: resource {resource.name!a} has unexpected fields")
        entry = _annotation(raw, MEMBER_ANNOTATION, f"resource {resource.name!a}")
        stored = entry.get("compression") == "stored"
        if set(entry) != {*_MEMBER_FIELDS, *(() if stored else ("compressed_sha256",))}:
            raise MalformedBundle(f"package statement: {MEMBER_ANNOTATION} of {resource.name!a} has unexpected fields")
        members.append(
            {
                "path": resource.name,
                "size": entry["size"],
                "sha256": resource.digest,
                "compression": entry["compression"],
                "compressed_size": entry["compressed_size"],
                "compressed_sha256": resource.digest if stored else entry["compressed_sha256"],
                "crc32": entry["crc32"],
            }
        )
    legacy_shape = {"schema": SCHEMA, **package, "members": members}
    try:
        manifest = Manifest.from_bytes(canonical_json(legacy_shape))
    except VerificationError:
        raise MalformedBundle(f"package statement: {PACKAGE_ANNOTATION} bindings are malformed") from None
    if manifest.key_id != key_id or manifest.alg != alg:
        raise BadSignature("signed key id or algorithm differs from the signing key's")
    if statement.subject_name != subject_name(manifest):
        raise MalformedBundle("package statement: subject[0].name is not the package's name-version-parameters")
    if format_time(manifest.created) != package["created"]:
        raise MalformedBundle("package statement: bindings are not in canonical form")
    if canonical_json(package_statement(manifest)) != payload:
        raise MalformedBundle("package statement is not the canonical statement of its bindings")
    return replace(manifest, format=FORMAT)


def unverified_claims(statement: Mapping[str, Any]) -> Mapping[str, Any]:
    """What a statement claims about the package, NOT verified (for ``inspect``): our annotation, or ``{}``."""
    subjects = statement.get("subject")
    subject = subjects[0] if isinstance(subjects, list) and subjects and isinstance(subjects[0], dict) else {}
    annotations = subject.get("annotations")
    claims = annotations.get(PACKAGE_ANNOTATION) if isinstance(annotations, dict) else None
    return claims if isinstance(claims, dict) else {}
