"""The package manifest: what was signed, as a typed value with one canonical byte encoding.

The manifest binds everything a verifier needs to trust a package without trusting the zip: each member's
path, sizes, CRC-32 and SHA-256 (of the uncompressed bytes *and* of the bytes as stored, so a re-compressed
member is refused too), which member is the pickle, the model's name, version and parameters version (so a
valid package cannot be served under another name), a sequence number that only grows (rollback), the
creation and optional expiry time, the signing key id and algorithm, and the library versions the pickle
needs. Every member, the pickle included, is listed: a package contains no unsigned pickle.

Canonical JSON (sorted keys, no whitespace, ASCII) makes the signed bytes a function of the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from diabetes_risk_model.errors import VerificationError
from diabetes_risk_model.signing._time import format_time, parse_time
from diabetes_risk_model.signing.oms import canonical_json

SCHEMA = "diabetes-risk-model/manifest/v1"
MANIFEST_NAME = "manifest.json"
MODEL_MEMBER = "model.pkl"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


@dataclass(frozen=True)
class MemberEntry:
    """One member of the package as the signer wrote it."""

    path: str
    size: int
    sha256: str
    compression: str
    compressed_size: int
    compressed_sha256: str
    crc32: int

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "compression": self.compression,
            "compressed_size": self.compressed_size,
            "compressed_sha256": self.compressed_sha256,
            "crc32": self.crc32,
        }


@dataclass(frozen=True)
class Manifest:
    """The signed statement about one package (see the module docstring for why each field exists)."""

    name: str
    version: str
    parameters_version: str
    sequence: int
    created: datetime
    key_id: str
    alg: str
    members: tuple[MemberEntry, ...]
    model: str = MODEL_MEMBER
    expires: datetime | None = None
    requirements: Mapping[str, str] = field(default_factory=dict)
    format: str = "v1"

    def member(self, path: str) -> MemberEntry:
        for entry in self.members:
            if entry.path == path:
                return entry
        raise KeyError(path)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "name": self.name,
            "version": self.version,
            "parameters_version": self.parameters_version,
            "sequence": self.sequence,
            "created": format_time(self.created),
            "expires": format_time(self.expires) if self.expires else None,
            "key_id": self.key_id,
            "alg": self.alg,
            "model": self.model,
            "requirements": dict(sorted(self.requirements.items())),
            "members": [m.to_json() for m in sorted(self.members, key=lambda m: m.path)],
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @classmethod
    def from_bytes(cls, payload: bytes) -> Manifest:
        """Parse a *verified* payload strictly; anything unexpected is a :class:`VerificationError`.

        Strict even though the bytes are signed: a signer bug or a payload of another schema version must
        not be half-understood.
        """
        try:
            data = json.loads(payload.decode("ascii"))
            if not isinstance(data, dict) or data.get("schema") != SCHEMA:
                raise ValueError("schema")
            expected = {
                "schema",
                "name",
                "version",
                "parameters_version",
                "sequence",
                "created",
                "expires",
                "key_id",
                "alg",
                "model",
                "requirements",
                "members",
            }
            if set(data) != expected:
                raise ValueError("fields")
            members = tuple(_member(m) for m in data["members"])
            if [m.path for m in members] != sorted({m.path for m in members}):
                raise ValueError("members not sorted or duplicated")
            requirements = data["requirements"]
            if not isinstance(requirements, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in requirements.items()
            ):
                raise ValueError("requirements")
            for key in ("name", "version", "parameters_version", "key_id", "alg", "model"):
                if not isinstance(data[key], str) or not _TOKEN.fullmatch(data[key]):
                    raise ValueError(key)
            if type(data["sequence"]) is not int or data["sequence"] < 0:
                raise ValueError("sequence")
            manifest = cls(
                name=data["name"],
                version=data["version"],
                parameters_version=data["parameters_version"],
                sequence=data["sequence"],
                created=parse_time(data["created"]),
                expires=parse_time(data["expires"]) if data["expires"] is not None else None,
                key_id=data["key_id"],
                alg=data["alg"],
                model=data["model"],
                requirements=requirements,
                members=members,
            )
            if manifest.model not in {m.path for m in members}:
                raise ValueError("model member not listed")
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            reason = exc.args[0] if isinstance(exc, ValueError) and exc.args and isinstance(exc.args[0], str) else ""
            raise VerificationError(
                "signed manifest does not follow schema " + SCHEMA + (f" ({reason})" if reason.isidentifier() else "")
            ) from None
        return manifest


def _member(data: Any) -> MemberEntry:
    if not isinstance(data, dict) or set(data) != {
        "path",
        "size",
        "sha256",
        "compression",
        "compressed_size",
        "compressed_sha256",
        "crc32",
    }:
        raise ValueError("member")
    for key in ("size", "compressed_size", "crc32"):
        if type(data[key]) is not int or data[key] < 0:
            raise ValueError("member")
    for key in ("sha256", "compressed_sha256"):
        if not isinstance(data[key], str) or not _HEX64.fullmatch(data[key]):
            raise ValueError("member")
    if data["compression"] not in ("stored", "deflate") or not isinstance(data["path"], str):
        raise ValueError("member")
    return MemberEntry(**data)
