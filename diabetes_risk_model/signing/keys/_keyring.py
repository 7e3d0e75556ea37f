"""The keyring: keys by id, which of them are retired, and how a ring is stored and found.

A keyring file (format ``diabetes-risk-model/keyring/v1``) is JSON written atomically with mode 0600, and never
inside a git work tree while it holds private keys. Tools find it through ``--keyring`` or ``MODEL_KEYRING``;
:meth:`Keyring.public` is what serving pods should hold.
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
from diabetes_risk_model.signing.keys._key import Key

KEYRING_FORMAT = "diabetes-risk-model/keyring/v1"
ENV_KEYRING = "MODEL_KEYRING"


class Keyring:
    """Keys by id. Immutable in spirit: the mutators return a new keyring."""

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._keys: dict[str, Key] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise ConfigurationError(f"duplicate key id {key.key_id!r}")
            self._keys[key.key_id] = key

    def __repr__(self) -> str:
        return f"Keyring({list(self._keys.values())!r})"

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> tuple[Key, ...]:
        return tuple(self._keys.values())

    @property
    def has_secrets(self) -> bool:
        """Whether any key can sign (holds a private key)."""
        return any(k.private is not None for k in self._keys.values())

    def with_key(self, key: Key) -> Keyring:
        return Keyring([*self._keys.values(), key])

    def retire(self, key_id: str) -> Keyring:
        if key_id not in self._keys:
            raise UnknownKey(key_id)
        return Keyring([replace(k, retired=k.retired or k.key_id == key_id) for k in self._keys.values()])

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
        """Verification-only view: every private key removed."""
        return Keyring([k.public_only() for k in self._keys.values()])

    # -- persistence -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": KEYRING_FORMAT,
            "keys": [k.to_json() for k in self._keys.values()],
        }

    def save(self, path: Path, *, allow_inside_repository: bool = False) -> Path:
        """Write atomically with mode 0600. Refuses paths inside a git work tree when private keys are present."""
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
        return cls([Key.from_json(k) for k in data["keys"]])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Keyring:
        """The keyring file named by ``MODEL_KEYRING``; :class:`MissingEnvironmentVariable` if it is unset."""
        env = os.environ if environ is None else environ
        if not env.get(ENV_KEYRING):
            raise MissingEnvironmentVariable(ENV_KEYRING, "no signing/verification keys")
        return cls.load(Path(env[ENV_KEYRING]))


def inside_git_work_tree(path: Path) -> bool:
    """True when *path* (or its nearest existing parent) is inside a directory that has ``.git``."""
    current = Path(path).absolute()
    return any((parent / ".git").exists() for parent in [current, *current.parents])
