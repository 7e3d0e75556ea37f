"""The original design's format, verified for compatibility only.

A legacy package is a zip holding ``signed_model.pkl`` = pickle bytes + ``b"."`` + an itsdangerous
``Signer(key)`` signature with the library defaults (HMAC-SHA1, ``django-concat`` key derivation, salt
``itsdangerous.Signer``), next to an *unsigned* ``model.pkl``, a ``data_report.html`` and whatever else was
zipped. That signature covers the pickle bytes only: no other member, no name, version, sequence or expiry,
no key id. We therefore:

* verify ``signed_model.pkl`` with the keyring's legacy key (``PARAMETERS_SIGNING_KEY``), and report that the
  other members are NOT covered;
* never unpickle anything here; :meth:`VerifiedPackage.load_model` refuses legacy packages unless the caller
  passes ``allow_legacy=True`` explicitly, and the loader never touches the unsigned ``model.pkl``;
* read the zip with :mod:`zipfile` (legacy zips are not canonical) under the same name and size limits.
"""

from __future__ import annotations

import hmac
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import itsdangerous

from diabetes_risk_model.errors import BadSignature, UnknownKey, UnsafeArchive
from diabetes_risk_model.files import CHUNK_SIZE
from diabetes_risk_model.signing.keys import HMAC_SHA256, Keyring

if TYPE_CHECKING:
    from diabetes_risk_model.signing.package import Limits

LEGACY_MEMBER = "signed_model.pkl"
LEGACY_ALG = "itsdangerous-hmac-sha1"
_FILE_NAME = re.compile(r"(?P<name>[A-Za-z0-9_.]+?)-(?P<version>\d+\.\d+\.\d+[A-Za-z0-9.+-]*)-(?P<pv>[0-9_]+)\.zip")


@dataclass(frozen=True)
class LegacyManifest:
    """What can be said about a legacy package. Only ``signed_model.pkl`` is covered by a signature;
    ``name``, ``version`` and ``parameters_version`` come from the file name and are NOT signed."""

    name: str
    version: str
    parameters_version: str
    key_id: str
    members: tuple[str, ...]
    signed_members: tuple[str, ...] = (LEGACY_MEMBER,)
    sequence: int = 0
    alg: str = LEGACY_ALG
    format: str = "legacy"
    expires: None = None
    requirements: dict[str, str] = field(default_factory=dict)
    model: str = LEGACY_MEMBER

    @property
    def unsigned_members(self) -> tuple[str, ...]:
        return tuple(m for m in self.members if m not in self.signed_members)


def _check_legacy_name(name: str, limits: Limits) -> None:
    if (
        not name
        or len(name) > limits.max_name_length
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(part in ("", ".", "..") for part in name.rstrip("/").split("/"))
        or not name.isascii()
        or not name.isprintable()
    ):
        raise UnsafeArchive("legacy archive has an unsafe member name")


def list_legacy(stream: BinaryIO, limits: Limits) -> list[zipfile.ZipInfo]:
    """Member list of a (non-canonical) zip, with the name, count, size and ratio limits applied."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise UnsafeArchive("not a readable zip archive") from None
    infos = archive.infolist()
    if not infos or len(infos) > limits.max_members:
        raise UnsafeArchive("member count is zero or over the limit")
    seen: set[str] = set()
    for info in infos:
        _check_legacy_name(info.filename, limits)
        if info.filename.lower() in seen:
            raise UnsafeArchive("duplicate member name")
        seen.add(info.filename.lower())
        if info.file_size > limits.max_member_size:
            raise UnsafeArchive("member is larger than the limit")
        if info.file_size > max(info.compress_size * limits.max_compression_ratio, limits.ratio_floor):
            raise UnsafeArchive("member exceeds the compression ratio limit (zip bomb?)")
    return infos


def verify_legacy(stream: BinaryIO, path: Path, keyring: Keyring, limits: Limits) -> tuple[LegacyManifest, bytes]:
    """Check ``signed_model.pkl``'s itsdangerous signature; return the manifest and the signed pickle bytes.

    The pickle bytes are returned (never unpickled here) so an explicit ``allow_legacy`` load uses exactly
    the bytes whose signature was checked.
    """
    infos = list_legacy(stream, limits)
    info = next(i for i in infos if i.filename == LEGACY_MEMBER)
    if info.file_size > limits.max_legacy_pickle_size:
        raise UnsafeArchive("signed_model.pkl is larger than the legacy limit")
    if keyring.legacy_key_id is None:
        raise UnknownKey("legacy")
    key = keyring.verifier_for(keyring.legacy_key_id)
    if key.alg != HMAC_SHA256 or key.secret is None:
        raise UnknownKey(keyring.legacy_key_id)
    buffer = bytearray()
    try:
        with zipfile.ZipFile(stream).open(info) as member:
            while chunk := member.read(CHUNK_SIZE):
                buffer += chunk
                if len(buffer) > info.file_size:
                    raise UnsafeArchive("signed_model.pkl is longer than declared")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error):
        raise UnsafeArchive("signed_model.pkl could not be read (corrupt or truncated archive)") from None
    refused = BadSignature(f"legacy signed_model.pkl signature does not match under key {key.key_id!r}")
    try:
        # Signer defaults = the original design: SHA-1, django-concat, salt "itsdangerous.Signer".
        signer = itsdangerous.Signer(key.secret)
        value = signer.unsign(bytes(buffer))
    except itsdangerous.BadSignature:
        raise refused from None
    # unsign() compares *decoded* signatures, and base64 is malleable: a 20-byte SHA-1 digest is 27 base64
    # characters carrying 162 bits, so the last character has 2 bits that decoding ignores and 3 other
    # characters decode to the same digest. Insist on the one canonical encoding, so that every changed
    # byte of signed_model.pkl is refused.
    if not hmac.compare_digest(signer.sign(value), bytes(buffer)):
        raise refused
    match = _FILE_NAME.fullmatch(path.name)
    manifest = LegacyManifest(
        name=match["name"] if match else "unknown",
        version=match["version"] if match else "unknown",
        parameters_version=match["pv"] if match else "unknown",
        key_id=key.key_id,
        members=tuple(i.filename for i in infos),
    )
    return manifest, value
