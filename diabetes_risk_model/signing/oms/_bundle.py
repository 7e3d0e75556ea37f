"""The OMS signature file: a sigstore bundle v0.3 (JSON) holding one DSSE envelope.

Two ways in, one way out:

* :meth:`Bundle.parse` reads any bundle the reference tool (``model_signing``, every published version)
  writes for the ``key`` and ``certificate`` methods: any JSON formatting, ``publicKey.hint`` (1.0.1 and
  later) or the older ``publicKey.rawBytes`` + ``keyDetails``, or ``x509CertificateChain.certificates``
  (the signing certificate first, then its chain, DER), ``keyid`` empty, null or absent, ``tlogEntries``
  empty or absent. The ``sigstore`` method (a Fulcio ``certificate`` and a transparency log) is refused.
  Like the reference, only the first DSSE signature counts; extra ones are kept as a count.
* :meth:`Bundle.parse_canonical` is for our own packages: the bytes must be exactly :meth:`Bundle.to_bytes`
  of what they parse to (sorted keys, no whitespace, one signature), so two different files never carry the
  same signature.

Anything malformed is a :class:`~diabetes_risk_model.errors.MalformedBundle` whose message holds nothing
from the file. No cryptography here (see :mod:`._verify` and :mod:`diabetes_risk_model.signing.keys.ec`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from diabetes_risk_model.errors import MalformedBundle

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_BUNDLE_SIZE = 16 << 20


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, ASCII only: one encoding per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def pae(payload: bytes, payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 <len> <type> <len> <payload>``."""
    kind = payload_type.encode("ascii")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def pae_compat(payload: bytes) -> bytes:
    """The encoding model-signing 0.2 signed by mistake (``DSSEV1`` and the payload's Python ``repr``).

    The reference verifier still accepts it for signatures made before 1.0; so does ours (verify-oms only).
    """
    kind = IN_TOTO_PAYLOAD_TYPE
    return f"DSSEV1 {len(kind)} {kind} {len(payload)} {payload!r}".encode()


@dataclass(frozen=True)
class Bundle:
    """What a verifier needs from a bundle: the signed payload, the first signature and the key material."""

    payload: bytes
    signature: bytes
    keyid: str = ""
    hint: str | None = None
    raw_key: bytes | None = None  # publicKey.rawBytes (older bundles): a PEM public key
    key_details: str | None = None  # publicKey.keyDetails (older bundles), e.g. PKIX_ECDSA_P384_SHA_384
    extra_signatures: int = 0
    certificates: tuple[bytes, ...] = ()  # x509CertificateChain (certificate method): DER, signing certificate first

    @property
    def method(self) -> str:
        """The OMS signing method: ``certificate`` or ``key``."""
        return "certificate" if self.certificates else "key"

    def to_bytes(self) -> bytes:
        """Our canonical encoding (hint form or certificate chain, exactly one signature)."""
        if self.raw_key is not None or self.key_details is not None or self.extra_signatures:
            raise ValueError("only hint-form or certificate, single-signature bundles have a canonical encoding")
        if (self.hint is None) == (not self.certificates):
            raise ValueError("a bundle names its key either by hint or by certificate chain")
        material: dict[str, Any] = {"tlogEntries": []}
        if self.certificates:
            chain = [{"rawBytes": base64.b64encode(der).decode("ascii")} for der in self.certificates]
            material["x509CertificateChain"] = {"certificates": chain}
        else:
            material["publicKey"] = {"hint": self.hint}
        return canonical_json(
            {
                "dsseEnvelope": {
                    "payload": base64.b64encode(self.payload).decode("ascii"),
                    "payloadType": IN_TOTO_PAYLOAD_TYPE,
                    "signatures": [{"keyid": self.keyid, "sig": base64.b64encode(self.signature).decode("ascii")}],
                },
                "mediaType": BUNDLE_MEDIA_TYPE,
                "verificationMaterial": material,
            }
        )

    @classmethod
    def parse(cls, data: bytes) -> Bundle:
        """Any reference-made key or certificate bundle; :class:`MalformedBundle` if it is not one."""
        if len(data) > MAX_BUNDLE_SIZE:
            raise MalformedBundle("signature file is larger than the limit")
        try:
            raw = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise MalformedBundle("signature file is not JSON") from None
        root = _object(raw, "bundle", {"mediaType", "verificationMaterial", "dsseEnvelope"})
        if root.get("mediaType") != BUNDLE_MEDIA_TYPE:
            raise MalformedBundle(f"signature file is not a sigstore bundle ({BUNDLE_MEDIA_TYPE})")
        if isinstance(root.get("verificationMaterial"), dict) and "certificate" in root["verificationMaterial"]:
            raise MalformedBundle("the sigstore signing method (Fulcio certificate, transparency log) is not supported")
        material = _object(
            root.get("verificationMaterial"),
            "verificationMaterial",
            {"publicKey", "x509CertificateChain", "tlogEntries", "timestampVerificationData"},
        )
        if material.get("tlogEntries", []) != []:
            raise MalformedBundle("key and certificate bundles carry no transparency-log entries")
        if ("publicKey" in material) == ("x509CertificateChain" in material):
            raise MalformedBundle("verificationMaterial must hold exactly one of publicKey, x509CertificateChain")
        certificates = _chain(material["x509CertificateChain"]) if "x509CertificateChain" in material else ()
        key = _object(
            material.get("publicKey", {}), "verificationMaterial.publicKey", {"hint", "rawBytes", "keyDetails"}
        )
        envelope = _object(root.get("dsseEnvelope"), "dsseEnvelope", {"payload", "payloadType", "signatures"})
        if envelope.get("payloadType") != IN_TOTO_PAYLOAD_TYPE:
            raise MalformedBundle(f"DSSE payloadType is not {IN_TOTO_PAYLOAD_TYPE}")
        signatures = envelope.get("signatures")
        if not isinstance(signatures, list) or not signatures:
            raise MalformedBundle("DSSE envelope carries no signature")
        first = _object(signatures[0], "DSSE signature", {"sig", "keyid"})
        keyid = first.get("keyid") or ""
        hint = key.get("hint")
        details = key.get("keyDetails")
        if not all(isinstance(v, str) for v in (keyid, hint or "", details or "")):
            raise MalformedBundle("bundle key id, key hint or key details is not a string")
        raw_key = _b64(key["rawBytes"], "publicKey.rawBytes") if "rawBytes" in key else None
        if not hint and raw_key is None and not certificates:
            raise MalformedBundle("bundle names no public key (neither hint nor rawBytes)")
        return cls(
            payload=_b64(envelope.get("payload"), "DSSE payload"),
            signature=_b64(first.get("sig"), "DSSE signature"),
            keyid=keyid,
            hint=hint or None,
            raw_key=raw_key,
            key_details=details,
            extra_signatures=len(signatures) - 1,
            certificates=certificates,
        )

    @classmethod
    def parse_canonical(cls, data: bytes) -> Bundle:
        """A bundle in exactly our encoding (see the module docstring)."""
        bundle = cls.parse(data)
        if bundle.extra_signatures:
            raise MalformedBundle("package signature must carry exactly one DSSE signature")
        try:
            canonical = bundle.to_bytes()
        except ValueError:
            canonical = b""
        if canonical != data:
            raise MalformedBundle("package signature is not in canonical form")
        return bundle


MAX_CHAIN_LENGTH = 8


def _chain(value: Any) -> tuple[bytes, ...]:
    chain = _object(value, "verificationMaterial.x509CertificateChain", {"certificates"})
    entries = chain.get("certificates")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_CHAIN_LENGTH:
        raise MalformedBundle(f"x509CertificateChain.certificates must list 1 to {MAX_CHAIN_LENGTH} certificates")
    out = []
    for entry in entries:
        der = _b64(_object(entry, "x509CertificateChain certificate", {"rawBytes"}).get("rawBytes"), "certificate")
        if not der:
            raise MalformedBundle("x509CertificateChain certificate is empty")
        out.append(der)
    return tuple(out)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key")
        result[key] = value
    return result


def _object(value: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    """A JSON object with no field outside *allowed* (an unknown field could carry unsigned meaning)."""
    if not isinstance(value, dict):
        raise MalformedBundle(f"{what} is missing or not a JSON object")
    if not set(value) <= allowed:
        raise MalformedBundle(f"{what} has an unexpected field")
    return value


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedBundle(f"{what} is missing or not a string")
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedBundle(f"{what} is not base64") from None
    if base64.b64encode(decoded).decode("ascii") != value:
        raise MalformedBundle(f"{what} is not canonical base64")
    return decoded
