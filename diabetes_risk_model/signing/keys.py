"""Keys and the keyring: who may sign, who may only verify, and which keys are retired.

Two algorithms:

* ``hmac-sha256`` — a shared secret, used through itsdangerous' HMAC algorithm with ``key_derivation="hmac"``
  and SHA-256 (the original design used SHA-1 and one unnamed key). Symmetric: whoever can verify can
  also sign, so a service holding an HMAC key can forge packages. Kept for compatibility and small setups.
* ``ed25519`` — via ``cryptography``. Signing needs the private key; :meth:`Keyring.public` strips it, so
  serving pods get a keyring that can only verify. This is the recommended production setup.

Every key has an id; the envelope names the id and the verifier uses exactly that key (no "try every
key" loop, which would turn one weak key into a weakness of all). Retired keys stay in the ring so that
packages signed with them are refused with :class:`RetiredKey` rather than :class:`UnknownKey`. Signing
uses the newest (by ``created``) non-retired key that holds private material.

Key material only ever comes from the environment or from files outside the repository; ``repr`` and
error messages never show it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from itsdangerous import Signer

from diabetes_risk_model.errors import (
    BadSignature,
    ConfigurationError,
    MissingEnvironmentVariable,
    RetiredKey,
    UnknownKey,
)
from diabetes_risk_model.signing.envelope import KEY_ID
from diabetes_risk_model.signing.manifest import format_time, parse_time

HMAC_SHA256 = "hmac-sha256"
ED25519 = "ed25519"
ALGORITHMS = (HMAC_SHA256, ED25519)
KEYRING_FORMAT = "diabetes-risk-model/keyring/v1"
HMAC_SALT = b"diabetes-risk-model/manifest/v1"
MIN_HMAC_SECRET = 32
ENV_KEYRING = "MODEL_KEYRING"
ENV_SECRET = "PARAMETERS_SIGNING_KEY"  # noqa: S105 - a variable name, not a secret
ENV_SECRET_ID = "PARAMETERS_SIGNING_KEY_ID"  # noqa: S105
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _hmac_signer(secret: bytes) -> Signer:
    return Signer(secret, salt=HMAC_SALT, key_derivation="hmac", digest_method=hashlib.sha256)


@dataclass(frozen=True, repr=False)
class Key:
    """One key. ``secret`` (HMAC) or ``private``/``public`` (Ed25519); never printed."""

    key_id: str
    alg: str
    created: datetime
    retired: bool = False
    secret: bytes | None = None
    private: Ed25519PrivateKey | None = None
    public: Ed25519PublicKey | None = None

    def __post_init__(self) -> None:
        if not KEY_ID.fullmatch(self.key_id):
            raise ConfigurationError("key id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
        if self.alg == HMAC_SHA256:
            if self.secret is None or len(self.secret) < MIN_HMAC_SECRET:
                raise ConfigurationError(f"HMAC key {self.key_id!r} needs a secret of at least {MIN_HMAC_SECRET} bytes")
        elif self.alg == ED25519:
            if self.public is None and self.private is not None:
                object.__setattr__(self, "public", self.private.public_key())
            if self.public is None:
                raise ConfigurationError(f"Ed25519 key {self.key_id!r} has no key material")
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
        raise ConfigurationError("algorithm must be one of: " + ", ".join(ALGORITHMS))

    def sign(self, data: bytes) -> bytes:
        if self.alg == HMAC_SHA256 and self.secret is not None:
            signer = _hmac_signer(self.secret)
            return signer.algorithm.get_signature(signer.derive_key(), data)
        if self.private is not None:
            return self.private.sign(data)
        raise ConfigurationError(f"key {self.key_id!r} is verification-only")

    def verify(self, data: bytes, signature: bytes) -> None:
        """Raise :class:`BadSignature` unless *signature* is valid (constant-time for HMAC)."""
        if self.alg == HMAC_SHA256 and self.secret is not None:
            signer = _hmac_signer(self.secret)
            if not signer.algorithm.verify_signature(signer.derive_key(), data, signature):  # hmac.compare_digest
                raise BadSignature(f"signature does not match under key {self.key_id!r}")
            return
        assert self.public is not None
        try:
            self.public.verify(signature, data)
        except InvalidSignature:
            raise BadSignature(f"signature does not match under key {self.key_id!r}") from None

    def public_only(self) -> Key:
        if self.alg == ED25519:
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
            raw = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            data["private"] = base64.b64encode(raw).decode("ascii")
        if self.public is not None:
            data["public"] = base64.b64encode(self.public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Key:
        try:
            alg = data["alg"]
            secret = base64.b64decode(data["secret"], validate=True) if "secret" in data else None
            private = (
                Ed25519PrivateKey.from_private_bytes(base64.b64decode(data["private"], validate=True))
                if "private" in data
                else None
            )
            public = (
                Ed25519PublicKey.from_public_bytes(base64.b64decode(data["public"], validate=True))
                if "public" in data
                else None
            )
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
        if private is not None and public is not None and key.private is not None:
            derived = key.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            if derived != public.public_bytes(Encoding.Raw, PublicFormat.Raw):
                raise ConfigurationError(f"key {key.key_id!r}: public key does not match private key")
        return key


class Keyring:
    """Keys by id. Immutable in spirit: the mutators return a new keyring."""

    def __init__(self, keys: Iterable[Key] = (), legacy_key_id: str | None = None) -> None:
        self._keys: dict[str, Key] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise ConfigurationError(f"duplicate key id {key.key_id!r}")
            self._keys[key.key_id] = key
        self.legacy_key_id = legacy_key_id

    def __repr__(self) -> str:
        return f"Keyring({list(self._keys.values())!r})"

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> tuple[Key, ...]:
        return tuple(self._keys.values())

    @property
    def has_secrets(self) -> bool:
        return any(k.secret is not None or k.private is not None for k in self._keys.values())

    def with_key(self, key: Key) -> Keyring:
        return Keyring([*self._keys.values(), key], self.legacy_key_id)

    def retire(self, key_id: str) -> Keyring:
        if key_id not in self._keys:
            raise UnknownKey(key_id)
        return Keyring(
            [replace(k, retired=k.retired or k.key_id == key_id) for k in self._keys.values()], self.legacy_key_id
        )

    def verifier_for(self, key_id: str) -> Key:
        """The key named *key_id*; :class:`UnknownKey` or :class:`RetiredKey` otherwise."""
        key = self._keys.get(key_id)
        if key is None:
            raise UnknownKey(key_id)
        if key.retired:
            raise RetiredKey(key_id)
        return key

    def signing_key(self) -> Key:
        """The newest (by ``created``, then by insertion) non-retired key that can sign."""
        candidates = [(k.created, i, k) for i, k in enumerate(self._keys.values()) if k.can_sign and not k.retired]
        if not candidates:
            raise ConfigurationError("the keyring holds no active signing key")
        return max(candidates, key=lambda c: (c[0], c[1]))[2]  # ties: the key added last

    def public(self) -> Keyring:
        """Verification-only view: Ed25519 private keys removed.

        HMAC keys are kept because verification needs the same secret; a keyring with HMAC keys can
        therefore still sign. Use Ed25519 keys where serving must not be able to sign.
        """
        return Keyring([k.public_only() for k in self._keys.values()], self.legacy_key_id)

    # -- persistence -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": KEYRING_FORMAT,
            "legacy_key_id": self.legacy_key_id,
            "keys": [k.to_json() for k in self._keys.values()],
        }

    def save(self, path: Path, *, allow_inside_repository: bool = False) -> Path:
        """Write atomically with mode 0600. Refuses paths inside a git work tree when secrets are present."""
        path = Path(path).expanduser().absolute()
        if self.has_secrets and not allow_inside_repository and inside_git_work_tree(path):
            raise ConfigurationError("refusing to write key material inside a git work tree; choose a path outside it")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".keyring-", dir=path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                json.dump(self.to_json(), out, indent=2, sort_keys=True)
                out.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            data = json.loads(Path(path).read_text(encoding="ascii"))
        except FileNotFoundError:
            raise ConfigurationError("keyring file not found") from None
        except (OSError, ValueError):
            raise ConfigurationError("keyring file is unreadable or not JSON") from None
        if not isinstance(data, dict) or data.get("format") != KEYRING_FORMAT or not isinstance(data.get("keys"), list):
            raise ConfigurationError(f"keyring file is not in format {KEYRING_FORMAT}")
        legacy = data.get("legacy_key_id")
        return cls([Key.from_json(k) for k in data["keys"]], legacy if isinstance(legacy, str) else None)

    @classmethod
    def from_settings(
        cls,
        *,
        keyring_path: str | Path | None = None,
        hmac_secret: str | None = None,
        hmac_key_id: str | None = None,
    ) -> Keyring:
        """Keys from a keyring file and/or an HMAC secret (the original design's ``parameters_signing_key``).

        The HMAC secret is used as its UTF-8 bytes; its id is *hmac_key_id* (default ``"default"``). It is
        also the key for legacy packages (``signed_model.pkl``), which carry no key id. It sorts as the
        oldest key, so a keyring file's keys are preferred for signing. Neither given: a
        :class:`ConfigurationError`.
        """
        keys: list[Key] = []
        legacy_id: str | None = None
        if keyring_path:
            ring = cls.load(Path(keyring_path))
            keys.extend(ring.keys)
            legacy_id = ring.legacy_key_id
        if hmac_secret:
            key_id = hmac_key_id or "default"
            keys.append(Key(key_id, HMAC_SHA256, _EPOCH, secret=hmac_secret.encode("utf-8")))
            legacy_id = key_id
        if not keys:
            raise ConfigurationError("no signing/verification keys: give a keyring file or an HMAC secret")
        return cls(keys, legacy_id)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Keyring:
        """:meth:`from_settings` from ``MODEL_KEYRING``, ``PARAMETERS_SIGNING_KEY``, ``PARAMETERS_SIGNING_KEY_ID``."""
        env = os.environ if environ is None else environ
        if not env.get(ENV_KEYRING) and not env.get(ENV_SECRET):
            raise MissingEnvironmentVariable(ENV_KEYRING, f"or {ENV_SECRET}: no signing/verification keys")
        return cls.from_settings(
            keyring_path=env.get(ENV_KEYRING) or None,
            hmac_secret=env.get(ENV_SECRET) or None,
            hmac_key_id=env.get(ENV_SECRET_ID) or None,
        )


def inside_git_work_tree(path: Path) -> bool:
    """True when *path* (or its nearest existing parent) is inside a directory that has ``.git``."""
    current = Path(path).absolute()
    return any((parent / ".git").exists() for parent in [current, *current.parents])
