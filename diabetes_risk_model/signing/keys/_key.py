"""Keys: ECDSA over NIST P-256 (the default), P-384 or P-521, the key types OpenSSF Model Signing defines.

A key has an id; a signature names the id and the verifier uses exactly that key (no "try every key" loop,
which would turn one weak key into a weakness of all). Signing needs the private key; :meth:`Key.public_only`
(and :meth:`.Keyring.public`) strips it, so serving pods hold keys that can only verify. A package signed
with these keys can be checked by anyone with the public key and ``model_signing``.

Key material only ever comes from files outside the repository; ``repr`` and error messages never show it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec as _ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_private_key,
    load_der_public_key,
)

from diabetes_risk_model.errors import BadSignature, ConfigurationError
from diabetes_risk_model.signing._time import format_time, parse_time
from diabetes_risk_model.signing.keys import _ec as ec

KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What a key id may be: it is written into signatures and may appear in messages."""
ECDSA_P256 = "ecdsa-p256"
ALGORITHMS = tuple(ec.CURVES)
"""``ecdsa-p256`` (the default), ``ecdsa-p384``, ``ecdsa-p521``."""
_OTHER_KINDS = {"hmac-sha256": "an HMAC key", "ed25519": "an Ed25519 key"}


@dataclass(frozen=True, repr=False)
class Key:
    """One ECDSA key: ``public`` always, ``private`` only where it may sign; never printed."""

    key_id: str
    alg: str
    created: datetime
    retired: bool = False
    private: _ec.EllipticCurvePrivateKey | None = None
    public: _ec.EllipticCurvePublicKey | None = None

    def __post_init__(self) -> None:
        if not KEY_ID.fullmatch(self.key_id):
            raise ConfigurationError("key id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
        if self.alg not in ALGORITHMS:
            kind = _OTHER_KINDS.get(self.alg, "of an unsupported algorithm")
            raise ConfigurationError(
                f"key {self.key_id!r} is {kind}: packages are signed with ECDSA (" + ", ".join(ALGORITHMS) + ")"
            )
        if self.public is None and self.private is not None:
            object.__setattr__(self, "public", self.private.public_key())
        if self.public is None:
            raise ConfigurationError(f"key {self.key_id!r} has no key material")
        if (
            not isinstance(self.public, _ec.EllipticCurvePublicKey)
            or self.public.curve.name != ec.CURVES[self.alg].name
        ):
            raise ConfigurationError(f"key {self.key_id!r}: key material does not match algorithm {self.alg}")

    def __repr__(self) -> str:
        return f"Key(key_id={self.key_id!r}, alg={self.alg!r}, retired={self.retired}, can_sign={self.can_sign})"

    @property
    def can_sign(self) -> bool:
        return self.private is not None

    @classmethod
    def generate(cls, key_id: str, alg: str = ECDSA_P256, created: datetime | None = None) -> Key:
        """A fresh random key on the curve of *alg*."""
        if alg not in ALGORITHMS:
            raise ConfigurationError("algorithm must be one of: " + ", ".join(ALGORITHMS))
        when = created or datetime.now(UTC).replace(microsecond=0)
        return cls(key_id, alg, when, private=_ec.generate_private_key(ec.CURVES[alg]))

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA signature, deterministic and low-S (see :mod:`.ec`)."""
        if self.private is None:
            raise ConfigurationError(f"key {self.key_id!r} is verification-only")
        return ec.sign(self.private, data)

    @property
    def hint(self) -> str:
        """The OMS ``publicKey.hint``: hex SHA-256 of the PEM public key."""
        assert self.public is not None  # __post_init__
        return ec.hint(self.public)

    def public_pem(self) -> bytes:
        """The public key as PEM SubjectPublicKeyInfo (what ``model_signing --public_key`` takes)."""
        assert self.public is not None
        return ec.public_pem(self.public)

    def verify(self, data: bytes, signature: bytes) -> None:
        """Raise :class:`BadSignature` unless *signature* is a valid low-S DER signature of *data*."""
        assert self.public is not None
        if not ec.verify(self.public, signature, data, low_s=True):
            raise BadSignature(f"signature does not match under key {self.key_id!r}")

    def public_only(self) -> Key:
        return replace(self, private=None)

    def to_json(self) -> dict[str, Any]:
        assert self.public is not None
        data: dict[str, Any] = {
            "key_id": self.key_id,
            "alg": self.alg,
            "created": format_time(self.created),
            "retired": self.retired,
            "public": base64.b64encode(
                self.public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            ).decode("ascii"),
        }
        if self.private is not None:
            raw = self.private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
            data["private"] = base64.b64encode(raw).decode("ascii")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Key:
        """A key from its keyring entry; :class:`ConfigurationError` for anything but an ECDSA key."""
        try:
            private = _load_private(data["private"]) if "private" in data else None
            public = _load_public(data["public"]) if "public" in data else None
            key = cls(
                key_id=str(data["key_id"]),
                alg=str(data["alg"]),
                created=parse_time(data["created"]),
                retired=bool(data.get("retired", False)),
                private=private,
                public=public,
            )
        except ConfigurationError:
            raise
        except (KeyError, ValueError, TypeError):
            raise ConfigurationError("keyring entry is malformed") from None
        if private is not None and public is not None and _der(private.public_key()) != _der(public):
            raise ConfigurationError(f"key {key.key_id!r}: public key does not match private key")
        return key


def _der(public: _ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _load_private(text: Any) -> _ec.EllipticCurvePrivateKey:
    """PKCS#8 DER, base64; anything else is a ValueError."""
    key = load_der_private_key(base64.b64decode(text, validate=True), password=None)
    if not isinstance(key, _ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC private key")
    return key


def _load_public(text: Any) -> _ec.EllipticCurvePublicKey:
    """SubjectPublicKeyInfo DER, base64; anything else is a ValueError."""
    key = load_der_public_key(base64.b64decode(text, validate=True))
    if not isinstance(key, _ec.EllipticCurvePublicKey):
        raise ValueError("not an EC public key")
    return key
