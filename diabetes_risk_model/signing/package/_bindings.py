"""The ``oms-v1`` package signature: ``model.sig``, one OMS statement that also carries our bindings.

``predicate.resources`` lists every other zip member (name = member path, SHA-256 of the uncompressed
bytes), sorted, so an extracted package verifies with ``model_signing verify key``. ``predicate.package``
is our extra field (the reference verifier ignores it) with what OMS does not bind: name, version,
parameters version, sequence, created, expires, key id, algorithm, which member is the pickle,
requirements, and each member's zip metadata (size, compression, compressed size, CRC-32, and the SHA-256
of the stored bytes for deflated members), so that re-compressed data and header fields are bound too.

The bundle and the statement are written in one canonical encoding and parsed back strictly: the bytes of
``model.sig`` must be exactly the encoding of what they parse to. The DSSE ``keyid`` is our key id (the
verifier uses exactly that key), ``publicKey.hint`` is the OMS hint of the key (HMAC keys: the key id).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import replace
from typing import Any

from diabetes_risk_model.errors import BadSignature, MalformedBundle, VerificationError
from diabetes_risk_model.signing._time import format_time
from diabetes_risk_model.signing.keys import KEY_ID, Key, Keyring
from diabetes_risk_model.signing.oms import (
    SERIALIZATION,
    Bundle,
    Resource,
    canonical_json,
    pae,
    parse_statement,
    statement_json,
)
from diabetes_risk_model.signing.package._limits import DEFAULT_LIMITS, Limits
from diabetes_risk_model.signing.package._manifest import SCHEMA, Manifest

SIGNATURE_NAME = "model.sig"
FORMAT = "oms-v1"
PACKAGE_SCHEMA = "diabetes-risk-model/oms-package/v1"
PACKAGE_FIELD = "package"
_BINDINGS = ("name", "version", "parameters_version", "sequence", "created", "expires", "key_id", "alg", "model")


def package_predicate(manifest: Manifest) -> dict[str, Any]:
    """``predicate.package``: the bindings and per-member zip metadata (see the module docstring)."""
    legacy = manifest.to_json()
    members = []
    for m in sorted(manifest.members, key=lambda m: m.path):
        entry: dict[str, Any] = {
            "name": m.path,
            "size": m.size,
            "compression": m.compression,
            "compressed_size": m.compressed_size,
            "crc32": m.crc32,
        }
        if m.compression != "stored":
            entry["compressed_sha256"] = m.compressed_sha256
        members.append(entry)
    return {
        "schema": PACKAGE_SCHEMA,
        **{k: legacy[k] for k in _BINDINGS},
        "requirements": legacy["requirements"],
        "members": members,
    }


def sign_package(manifest: Manifest, key: Key) -> bytes:
    """The bytes of ``model.sig`` for *manifest*, signed by *key*; checked by our own parser before use."""
    resources = [Resource(m.path, m.sha256) for m in manifest.members]
    statement = statement_json(manifest.name, resources, {PACKAGE_FIELD: package_predicate(manifest)})
    payload = canonical_json(statement)
    data = Bundle(payload, key.sign(pae(payload)), keyid=key.key_id, hint=key.hint).to_bytes()
    _manifest_from_payload(payload, key.key_id, key.alg, DEFAULT_LIMITS)  # never sign what we would refuse
    return data


def read_package_signature(data: bytes, keyring: Keyring, limits: Limits = DEFAULT_LIMITS) -> Manifest:
    """Check ``model.sig`` and return the signed manifest (``format == "oms-v1"``).

    1. canonical bundle (:class:`MalformedBundle`); 2. the key its DSSE ``keyid`` names, not retired
    (:class:`UnknownKey`, :class:`RetiredKey`), whose hint it carries; 3. the signature (:class:`BadSignature`);
    4. the statement and our bindings, canonical and complete.
    """
    bundle = Bundle.parse_canonical(data)
    if not KEY_ID.fullmatch(bundle.keyid):
        raise MalformedBundle("package signature names an invalid key id")
    key = keyring.verifier_for(bundle.keyid)
    if not hmac.compare_digest(bundle.hint or "", key.hint):
        raise BadSignature(f"package signature's key hint does not match key {key.key_id!r}")
    key.verify(pae(bundle.payload), bundle.signature)
    return _manifest_from_payload(bundle.payload, key.key_id, key.alg, limits)


def _manifest_from_payload(payload: bytes, key_id: str, alg: str, limits: Limits) -> Manifest:
    statement = parse_statement(payload, limits.max_name_length)
    if canonical_json(json.loads(payload)) != payload:
        raise MalformedBundle("package statement is not in canonical form")
    predicate = dict(statement.predicate)
    if set(predicate) != {"resources", "serialization", PACKAGE_FIELD} or predicate["serialization"] != SERIALIZATION:
        raise MalformedBundle("package statement predicate has unexpected fields")
    package = predicate[PACKAGE_FIELD]
    if not isinstance(package, dict) or package.get("schema") != PACKAGE_SCHEMA:
        raise MalformedBundle(f"package statement does not follow schema {PACKAGE_SCHEMA}")
    if set(package) != {"schema", *_BINDINGS, "requirements", "members"} or not isinstance(package["members"], list):
        raise MalformedBundle("package bindings have unexpected fields")
    digests = statement.digests()
    members = []
    for entry in package["members"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or entry["name"] not in digests:
            raise MalformedBundle("package member metadata does not match the resources")
        stored = entry.get("compression") == "stored"
        keys = {"name", "size", "compression", "compressed_size", "crc32"}
        keys |= set() if stored else {"compressed_sha256"}
        if set(entry) != keys:
            raise MalformedBundle("package member metadata has unexpected fields")
        sha = digests[entry["name"]]
        members.append(
            {
                "path": entry["name"],
                "size": entry["size"],
                "sha256": sha,
                "compression": entry["compression"],
                "compressed_size": entry["compressed_size"],
                "compressed_sha256": sha if stored else entry["compressed_sha256"],
                "crc32": entry["crc32"],
            }
        )
    if [m["path"] for m in members] != [r.name for r in statement.resources]:
        raise MalformedBundle("package member metadata does not match the resources")
    legacy_shape = {"schema": SCHEMA, **{k: package[k] for k in _BINDINGS}, "requirements": package["requirements"]}
    try:
        manifest = Manifest.from_bytes(canonical_json({**legacy_shape, "members": members}))
    except VerificationError:
        raise MalformedBundle(f"package bindings do not follow schema {PACKAGE_SCHEMA}") from None
    if manifest.key_id != key_id or manifest.alg != alg:
        raise BadSignature("signed key id or algorithm differs from the signing key's")
    if statement.subject_name != manifest.name:
        raise MalformedBundle("statement subject is not the package name")
    if format_time(manifest.created) != package["created"]:
        raise MalformedBundle("package bindings are not in canonical form")
    return replace(manifest, format=FORMAT)
