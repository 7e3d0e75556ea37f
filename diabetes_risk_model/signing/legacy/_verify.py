"""The itsdangerous package format (``signed_model.pkl``), verified for compatibility only; nothing here unpickles.

A legacy package is a zip holding ``signed_model.pkl`` = pickle bytes + ``b"."`` + an itsdangerous
``Signer(key)`` signature with the library defaults (HMAC-SHA1, ``django-concat`` key derivation, salt
``itsdangerous.Signer``), next to an *unsigned* ``model.pkl``, a ``data_report.html`` and whatever else was
zipped. That signature covers the pickle bytes only: no other member, no name, version, sequence or expiry,
no key id. Therefore:

* :func:`verify_legacy_package` checks ``signed_model.pkl`` with the HMAC secret it is given and reports the
  other members as NOT covered; it returns the signed pickle bytes, never the unsigned ``model.pkl``;
* the zip is read with :mod:`zipfile` (legacy zips are not canonical) under the same name and size limits;
* the service never reads this format: :func:`.migrate_package` converts it into ours.
"""

from __future__ import annotations

import hmac
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import itsdangerous

from diabetes_risk_model.errors import BadSignature, UnsafeArchive
from diabetes_risk_model.files import CHUNK_SIZE
from diabetes_risk_model.names import check_name
from diabetes_risk_model.signing.package import DEFAULT_LIMITS, SIGNATURE_NAME, Limits, MemberStatus

LEGACY_MEMBER = "signed_model.pkl"
LEGACY_ALG = "itsdangerous-hmac-sha1"
LEGACY_KEY_ID = "default"
"""The format has one unnamed key; it is reported under this id."""
_FILE_NAME = re.compile(r"(?P<name>[A-Za-z0-9_.]+?)-(?P<version>\d+\.\d+\.\d+[A-Za-z0-9.+-]*)-(?P<pv>[0-9_]+)\.zip")


@dataclass(frozen=True)
class LegacyManifest:
    """What can be said about a legacy package. Only ``signed_model.pkl`` is covered by a signature;
    ``name``, ``version`` and ``parameters_version`` come from the file name and are NOT signed."""

    name: str
    version: str
    parameters_version: str
    members: tuple[str, ...]
    key_id: str = LEGACY_KEY_ID
    signed_members: tuple[str, ...] = (LEGACY_MEMBER,)
    alg: str = LEGACY_ALG
    format: str = "legacy"

    @property
    def unsigned_members(self) -> tuple[str, ...]:
        return tuple(m for m in self.members if m not in self.signed_members)


@dataclass(frozen=True)
class LegacyPackage:
    """A legacy package whose one signature verified: the exact signed pickle bytes (read-only, never unpickled
    here) and one status per member (only ``signed_model.pkl`` is OK, the others NOT COVERED)."""

    path: Path
    manifest: LegacyManifest
    members: tuple[MemberStatus, ...]
    model_bytes: memoryview

    @property
    def format(self) -> str:
        return self.manifest.format


def is_legacy_package(path: Path) -> bool:
    """Whether *path* is a readable zip holding ``signed_model.pkl`` and no ``model.sig`` (nothing is verified)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return False
    return LEGACY_MEMBER in names and SIGNATURE_NAME not in names


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
        if not info.filename.isascii():
            raise UnsafeArchive("legacy archive has an unsafe member name")
        check_name(info.filename.rstrip("/"), max_length=limits.max_name_length, portable=False)  # directory entries
        if info.filename.lower() in seen:
            raise UnsafeArchive("duplicate member name")
        seen.add(info.filename.lower())
        if info.file_size > limits.max_member_size:
            raise UnsafeArchive("member is larger than the limit")
        if info.file_size > max(info.compress_size * limits.max_compression_ratio, limits.ratio_floor):
            raise UnsafeArchive("member exceeds the compression ratio limit (zip bomb?)")
    return infos


def verify_legacy_package(path: Path, secret: str | bytes, *, limits: Limits = DEFAULT_LIMITS) -> LegacyPackage:
    """Check ``signed_model.pkl``'s itsdangerous signature under *secret* (the format's one HMAC key).

    :class:`UnsafeArchive` for an unreadable or unsafe zip (or one that carries ``model.sig``: that is our
    format), :class:`BadSignature` for any other key or any changed byte of ``signed_model.pkl``.
    """
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    path = Path(path)
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        raise UnsafeArchive("package file cannot be opened") from None
    with stream:
        infos = list_legacy(stream, limits)
        names = [i.filename for i in infos]
        if LEGACY_MEMBER not in names or SIGNATURE_NAME in names:
            raise UnsafeArchive("not an original-format package (signed_model.pkl, and no model.sig)")
        value = _unsign(stream, next(i for i in infos if i.filename == LEGACY_MEMBER), key, limits)
    match = _FILE_NAME.fullmatch(path.name)
    manifest = LegacyManifest(
        name=match["name"] if match else "unknown",
        version=match["version"] if match else "unknown",
        parameters_version=match["pv"] if match else "unknown",
        members=tuple(names),
    )
    statuses = tuple(
        MemberStatus(m, True, "signature OK") if m == LEGACY_MEMBER else MemberStatus(m, False, "NOT COVERED")
        for m in names
    )
    return LegacyPackage(path, manifest, statuses, memoryview(value).toreadonly())


def _unsign(stream: BinaryIO, info: zipfile.ZipInfo, key: bytes, limits: Limits) -> bytes:
    """The pickle bytes of ``signed_model.pkl`` if its signature is the one canonical signature under *key*."""
    if info.file_size > limits.max_legacy_pickle_size:
        raise UnsafeArchive("signed_model.pkl is larger than the legacy limit")
    buffer = bytearray()
    try:
        with zipfile.ZipFile(stream).open(info) as member:
            while chunk := member.read(CHUNK_SIZE):
                buffer += chunk
                if len(buffer) > info.file_size:
                    raise UnsafeArchive("signed_model.pkl is longer than declared")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error):
        raise UnsafeArchive("signed_model.pkl could not be read (corrupt or truncated archive)") from None
    refused = BadSignature(f"legacy signed_model.pkl signature does not match under key {LEGACY_KEY_ID!r}")
    try:
        # Signer defaults, as the format uses them: SHA-1, django-concat, salt "itsdangerous.Signer".
        signer = itsdangerous.Signer(key)
        value = signer.unsign(bytes(buffer))
    except itsdangerous.BadSignature:
        raise refused from None
    # unsign() compares *decoded* signatures, and base64 is malleable: a 20-byte SHA-1 digest is 27 base64
    # characters carrying 162 bits, so the last character has 2 bits that decoding ignores and 3 other
    # characters decode to the same digest. Insist on the one canonical encoding, so that every changed
    # byte of signed_model.pkl is refused.
    if not hmac.compare_digest(signer.sign(value), bytes(buffer)):
        raise refused
    return value
