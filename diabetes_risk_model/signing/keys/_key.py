"""Keys: who may sign, who may only verify (the keyring that holds them is :mod:`.keyring`).

Three kinds of algorithm:

* ``ecdsa-p256`` (the default) — ECDSA over NIST P-256 with SHA-256, via ``cryptography`` (see :mod:`.ec`):
  the key type the OpenSSF Model Signing reference tool verifies, so a package is checkable by strangers.
  ``ecdsa-p384`` / ``ecdsa-p521`` (SHA-384 / SHA-512) are accepted too, because OMS signers use them.
  Signing needs the private key; :meth:`Keyring.public` strips it.
* ``hmac-sha256`` — a shared secret, used through itsdangerous' HMAC algorithm with ``key_derivation="hmac"``
  and SHA-256 (the original design used SHA-1 and one unnamed key). Symmetric: whoever can verify can
  also sign, so a service holding an HMAC key can forge packages. Kept for compatibility and small setups.
* ``ed25519`` — via ``cryptography``. Signing needs the private key; :meth:`Keyring.public` strips it, so
  serving pods get a keyring that can only verify. Our verifier accepts it; ``model_signing`` cannot verify it.

Every key has an id; the envelope names the id and the verifier uses exactly that key (no "try every
key" loop, which would turn one weak key into a weakness of all). Retired keys stay in the ring so that
packages signed with them are refused with :class:`RetiredKey` rather than :class:`UnknownKey`. Signing
uses the newest (by ``created``) non-retired key that holds private material (:meth:`.Keyring.signing_key`).

Key material only ever comes from the environment or from files outside the repository; ``repr`` and
error messages never show it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec as _ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_private_key,
    load_der_public_key,
)
from itsdangerous import Signer

from diabetes_risk_model.errors import (
    BadSignature,
    ConfigurationError,
)
from diabetes_risk_model.signing._time import format_time, parse_time
from diabetes_risk_model.signing.keys import _ec as ec

KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What a key id may be: it is written into signatures and may appear in messages."""
HMAC_SHA256 = "hmac-sha256"
ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256"
ECDSA_ALGORITHMS = tuple(ec.CURVES)
ALGORITHMS = (ECDSA_P256, *ECDSA_ALGORITHMS[1:], HMAC_SHA256, ED25519)
HMAC_SALT = b"diabetes-risk-model/manifest/v1"
MIN_HMAC_SECRET = 32
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The ``created`` time of keys that have none (an HMAC secret from the environment): older than any other."""


def _hmac_signer(secret: bytes) -> Signer:
    return Signer(secret, salt=HMAC_SALT, key_derivation="hmac", digest_method=hashlib.sha256)


@dataclass(frozen=True, repr=False)
class Key:
    """One key. ``secret`` (HMAC) or ``private``/``public`` (ECDSA, Ed25519); never printed."""

    key_id: str
    alg: str
    created: datetime
    retired: bool = False
    secret: bytes | None = None
    private: Ed25519PrivateKey | _ec.EllipticCurvePrivateKey | None = None
    public: Ed25519PublicKey | _ec.EllipticCurvePublicKey | None = None

    def __post_init__(self) -> None:
        if not KEY_ID.fullmatch(self.key_id):
            raise ConfigurationError("key id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
        if self.alg == HMAC_SHA256:
            if self.secret is None or len(self.secret) < MIN_HMAC_SECRET:
                raise ConfigurationError(f"HMAC key {self.key_id!r} needs a secret of at least {MIN_HMAC_SECRET} bytes")
        elif self.alg in (ED25519, *ECDSA_ALGORITHMS):
            if self.public is None and self.private is not None:
                object.__setattr__(self, "public", self.private.public_key())
            if self.public is None:
                raise ConfigurationError(f"key {self.key_id!r} has no key material")
            if self.alg == ED25519:
                fits = isinstance(self.public, Ed25519PublicKey)
            else:
                fits = isinstance(self.public, _ec.EllipticCurvePublicKey) and (
                    self.public.curve.name == ec.CURVES[self.alg].name
                )
            if not fits:
                raise ConfigurationError(f"key {self.key_id!r}: key material does not match algorithm {self.alg}")
        else:
            raise ConfigurationError(f"key {self.key_id!r} has an unsupported algorithm")

    def __repr__(self) -> str:
        return f"Key(key_id={self.key_id!r}, alg={self.alg!r}, retired={self.retired}, can_sign={self.can_sign})"

    @property
    def can_sign(self) -> bool:
        return self.alg == HMAC_SHA256 or self.private is not None

    @classmethod
    def generate(cls, key_id: str, alg: str, created: datetime | None = None) -> Key:
        """A fresh random key (32 random bytes for HMAC)."""
        when = created or datetime.now(UTC).replace(microsecond=0)
        if alg == HMAC_SHA256:
            return cls(key_id, alg, when, secret=secrets.token_bytes(32))
        if alg == ED25519:
            return cls(key_id, alg, when, private=Ed25519PrivateKey.generate())
        if alg in ECDSA_ALGORITHMS:
            return cls(key_id, alg, when, private=_ec.generate_private_key(ec.CURVES[alg]))
        raise ConfigurationError("algorithm must be one of: " + ", ".join(ALGORITHMS))

    def sign(self, data: bytes) -> bytes:
        if self.alg == HMAC_SHA256 and self.secret is not None:
            signer = _hmac_signer(self.secret)
            return signer.algorithm.get_signature(signer.derive_key(), data)
        if isinstance(self.private, _ec.EllipticCurvePrivateKey):
            return ec.sign(self.private, data)
        if self.private is not None:
            return self.private.sign(data)
        raise ConfigurationError(f"key {self.key_id!r} is verification-only")

    @property
    def hint(self) -> str:
        """The OMS ``publicKey.hint``: hex SHA-256 of the PEM public key (HMAC keys: their key id)."""
        return self.key_id if self.public is None else ec.hint(self.public)

    def public_pem(self) -> bytes:
        """The public key as PEM SubjectPublicKeyInfo (what ``model_signing --public_key`` takes)."""
        if self.public is None:
            raise ConfigurationError(f"key {self.key_id!r} is symmetric (HMAC): it has no public key")
        return ec.public_pem(self.public)

    def verify(self, data: bytes, signature: bytes) -> None:
        """Raise :class:`BadSignature` unless *signature* is valid (constant-time for HMAC)."""
        if self.alg == HMAC_SHA256 and self.secret is not None:
            signer = _hmac_signer(self.secret)
            if not signer.algorithm.verify_signature(signer.derive_key(), data, signature):  # hmac.compare_digest
                raise BadSignature(f"signature does not match under key {self.key_id!r}")
            return
        if isinstance(self.public, _ec.EllipticCurvePublicKey):
            if not ec.verify(self.public, signature, data, low_s=True):
                raise BadSignature(f"signature does not match under key {self.key_id!r}")
            return
        assert self.public is not None
        try:
            self.public.verify(signature, data)
        except InvalidSignature:
            raise BadSignature(f"signature does not match under key {self.key_id!r}") from None

    def public_only(self) -> Key:
        if self.alg != HMAC_SHA256:
            return replace(self, private=None)
        return self

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key_id": self.key_id,
            "alg": self.alg,
            "created": format_time(self.created),
            "retired": self.retired,
        }
        if self.secret is not None:
            data["secret"] = base64.b64encode(self.secret).decode("ascii")
        if self.private is not None:
            data["private"] = base64.b64encode(_private_bytes(self.private)).decode("ascii")
        if self.public is not None:
            data["public"] = base64.b64encode(_public_bytes(self.public)).decode("ascii")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Key:
        try:
            alg = data["alg"]
            secret = base64.b64decode(data["secret"], validate=True) if "secret" in data else None
            raw_private = base64.b64decode(data["private"], validate=True) if "private" in data else None
            raw_public = base64.b64decode(data["public"], validate=True) if "public" in data else None
            private = _load_private(alg, raw_private) if raw_private is not None else None
            public = _load_public(alg, raw_public) if raw_public is not None else None
            key = cls(
                key_id=str(data["key_id"]),
                alg=alg,
                created=parse_time(data["created"]),
                retired=bool(data.get("retired", False)),
                secret=secret,
                private=private,
                public=public,
            )
        except ConfigurationError:
            raise
        except (KeyError, ValueError, TypeError):
            raise ConfigurationError("keyring entry is malformed") from None
        if private is not None and public is not None and _public_bytes(private.public_key()) != _public_bytes(public):
            raise ConfigurationError(f"key {key.key_id!r}: public key does not match private key")
        return key


def _private_bytes(private: Ed25519PrivateKey | _ec.EllipticCurvePrivateKey) -> bytes:
    if isinstance(private, Ed25519PrivateKey):
        return private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())


def _public_bytes(public: Ed25519PublicKey | _ec.EllipticCurvePublicKey) -> bytes:
    if isinstance(public, Ed25519PublicKey):
        return public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _load_private(alg: str, raw: bytes) -> Ed25519PrivateKey | _ec.EllipticCurvePrivateKey:
    """Raw bytes (Ed25519) or PKCS#8 DER (ECDSA); anything else is a ValueError."""
    if alg == ED25519:
        return Ed25519PrivateKey.from_private_bytes(raw)
    key = load_der_private_key(raw, password=None)
    if not isinstance(key, _ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC private key")
    return key


def _load_public(alg: str, raw: bytes) -> Ed25519PublicKey | _ec.EllipticCurvePublicKey:
    """Raw bytes (Ed25519) or SubjectPublicKeyInfo DER (ECDSA); anything else is a ValueError."""
    if alg == ED25519:
        return Ed25519PublicKey.from_public_bytes(raw)
    key = load_der_public_key(raw)
    if not isinstance(key, _ec.EllipticCurvePublicKey):
        raise ValueError("not an EC public key")
    return key
