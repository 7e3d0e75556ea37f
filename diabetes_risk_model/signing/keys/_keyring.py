"""The keyring: keys by id, which of them are retired, and how a ring is stored and found.

A keyring file (format ``diabetes-risk-model/keyring/v1``) is JSON written atomically with mode 0600, and never
inside a git work tree while it holds secrets. Services get a keyring from settings or the environment
(``MODEL_KEYRING`` and/or ``PARAMETERS_SIGNING_KEY``); :meth:`Keyring.public` is what serving pods should hold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from diabetes_risk_model.errors import ConfigurationError, MissingEnvironmentVariable, RetiredKey, UnknownKey
from diabetes_risk_model.files import atomic_writer
from diabetes_risk_model.signing.keys._key import EPOCH, HMAC_SHA256, Key

KEYRING_FORMAT = "diabetes-risk-model/keyring/v1"
ENV_KEYRING = "MODEL_KEYRING"
ENV_SECRET = "PARAMETERS_SIGNING_KEY"  # noqa: S105 - a variable name, not a secret
ENV_SECRET_ID = "PARAMETERS_SIGNING_KEY_ID"  # noqa: S105


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
        text = json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"
        with atomic_writer(path, mode=0o600) as out:
            out.write(text.encode("ascii"))
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
            keys.append(Key(key_id, HMAC_SHA256, EPOCH, secret=hmac_secret.encode("utf-8")))
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
