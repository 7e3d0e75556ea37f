"""Verification: prove a package is untouched before a single byte of its pickle is interpreted.

One format, ``oms-v1``: ``model.sig`` last, an OMS signature over every other member (see :mod:`._bindings`).

Checks, in this order (each failure is its own :class:`~diabetes_risk_model.errors.VerificationError`):

1. the zip is canonical and within limits (:class:`UnsafeArchive`) — structure only, no member data read;
2. the signature (``model.sig``), with the key it names (:class:`BadSignature` and its
   subclass :class:`MalformedBundle`, :class:`UnknownKey`, :class:`RetiredKey`);
3. the zip holds exactly the manifest's members (:class:`MissingMember`, :class:`UnexpectedMember`,
   :class:`MemberSetMismatch`);
4. every member's header fields, size and SHA-256 (:class:`DigestMismatch` naming the member), streamed in
   1 MiB chunks; the pickle's bytes are captured into one buffer during this same pass;
5. name, version and parameters version equal what the caller expects (:class:`BindingMismatch`);
6. sequence ≥ the caller's minimum (:class:`Rollback`);
7. not expired (:class:`Expired`).

Only then may the caller unpickle :attr:`VerifiedPackage.model_bytes` — exactly the captured bytes (nothing
here unpickles). The file is never re-read after verification, so swapping it on disk afterwards changes
nothing.
"""

from __future__ import annotations

import hmac
import os
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from diabetes_risk_model.errors import (
    BindingMismatch,
    DigestMismatch,
    Expired,
    MemberSetMismatch,
    MissingMember,
    Rollback,
    UnexpectedMember,
    UnsafeArchive,
)
from diabetes_risk_model.signing._time import now_utc
from diabetes_risk_model.signing.package._archive import (
    COMPRESSION_NAMES,
    STORED,
    ZipEntry,
    hash_member,
    read_directory,
)
from diabetes_risk_model.signing.package._bindings import Trust, read_package_signature
from diabetes_risk_model.signing.package._limits import DEFAULT_LIMITS, Limits
from diabetes_risk_model.signing.package._manifest import SIGNATURE_NAME, Manifest


@dataclass(frozen=True)
class Expectation:
    """What the caller is about to serve; a valid package for anything else is refused."""

    name: str
    version: str
    parameters_version: str
    min_sequence: int = 0


@dataclass(frozen=True)
class MemberStatus:
    """Per-member outcome, for reports (``verify`` prints one line per member)."""

    path: str
    ok: bool
    detail: str = ""


class VerifiedPackage:
    """A package whose checks all passed. Holds the verified pickle bytes (if captured), not the file."""

    def __init__(
        self,
        path: Path,
        manifest: Manifest,
        members: tuple[MemberStatus, ...],
        model_bytes: memoryview | None,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.members = members
        self._model_bytes = model_bytes

    @property
    def format(self) -> str:
        return self.manifest.format

    @property
    def model_bytes(self) -> memoryview | None:
        """Read-only view of the verified pickle (``None`` if verification ran with ``capture_model=False``)."""
        return self._model_bytes


def verify_package(
    path: Path,
    keyring: Trust,
    expect: Expectation | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    now: datetime | None = None,
    capture_model: bool = True,
    report: list[MemberStatus] | None = None,
) -> VerifiedPackage:
    """Verify the package at *path* (see the module docstring for the checks and their order).

    *report*, when given, receives one :class:`MemberStatus` per member and hashing continues past the
    first mismatch (so a CLI can list every bad member); the first failure is still raised.
    ``capture_model=False`` hashes without keeping the pickle (flat memory; used by the benchmark and by
    ``rotate``).

    *keyring* is a :class:`Keyring` (``key`` method) or a
    :class:`~diabetes_risk_model.signing.oms.CertificateTrust` (trust anchors and an identity: packages
    signed by the ``certificate`` method, validated at *now*).
    """
    path = Path(path)
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        raise UnsafeArchive("package file cannot be opened") from None
    with stream:
        entries = read_directory(stream, os.fstat(stream.fileno()).st_size, limits)
        return _verify_signed(stream, path, entries, keyring, expect, limits, now, capture_model, report)


def _verify_signed(
    stream: BinaryIO,
    path: Path,
    entries: list[ZipEntry],
    keyring: Trust,
    expect: Expectation | None,
    limits: Limits,
    now: datetime | None,
    capture_model: bool,
    report: list[MemberStatus] | None,
) -> VerifiedPackage:
    # 1. layout: members sorted by name, the signature (model.sig) last and stored
    *members, last = entries
    if last.name != SIGNATURE_NAME or [e.name for e in members] != sorted(e.name for e in members):
        raise UnsafeArchive("not a model package: members not sorted, or model.sig not last")
    if last.method != STORED or last.size > limits.max_manifest_size:
        raise UnsafeArchive(f"{last.name} must be stored uncompressed and within the size limit")
    stream.seek(last.data_offset)
    signature_bytes = stream.read(last.size)
    if len(signature_bytes) != last.size:
        raise UnsafeArchive("archive is truncated")

    # 2. signature under the named key (before the CRC, so a changed signature file is reported as BadSignature)
    manifest = read_package_signature(signature_bytes, keyring, limits, now)
    if zlib.crc32(signature_bytes) != last.crc32:  # the only header field the signature cannot bind for itself
        raise UnsafeArchive(f"{last.name} CRC does not match its header")

    # 3. exact member set
    listed = {m.path for m in manifest.members}
    present = {e.name for e in members}
    missing, unexpected = sorted(listed - present), sorted(present - listed)
    if missing and unexpected:
        raise MemberSetMismatch(missing, unexpected)
    if missing:
        raise MissingMember(missing)
    if unexpected:
        raise UnexpectedMember(unexpected)

    # 4. every member's bytes, streamed; the pickle captured once
    statuses: list[MemberStatus] = []
    first_error: DigestMismatch | None = None
    model_buffer: bytearray | None = None
    for entry in members:
        expected = manifest.member(entry.name)
        sink = None
        if capture_model and entry.name == manifest.model:
            model_buffer = bytearray(expected.size if expected.size == entry.size else 0)
            sink = memoryview(model_buffer)
        try:
            _check_member(stream, entry, expected, sink)
            statuses.append(MemberStatus(entry.name, True))
        except DigestMismatch as exc:
            statuses.append(MemberStatus(entry.name, False, exc.message))
            first_error = first_error or exc
            if report is None:
                raise
    if report is not None:
        report.extend(statuses)
    if first_error is not None:
        raise first_error

    # 5-7. binding, rollback, expiry
    if expect is not None:
        _check_binding(manifest, expect)
    moment = now or now_utc()
    if manifest.expires is not None and manifest.expires <= moment:
        raise Expired(f"manifest expired at {manifest.expires.isoformat()}", expires=manifest.expires)
    model_view = memoryview(model_buffer).toreadonly() if model_buffer is not None else None
    return VerifiedPackage(path, manifest, tuple(statuses), model_view)


def _check_binding(manifest: Manifest, expect: Expectation) -> None:
    for field in ("name", "version", "parameters_version"):
        if getattr(manifest, field) != getattr(expect, field):
            raise BindingMismatch(field, getattr(expect, field), getattr(manifest, field))
    if manifest.sequence < expect.min_sequence:
        raise Rollback(manifest.sequence, expect.min_sequence)


def _check_member(stream: BinaryIO, entry: ZipEntry, expected: Any, sink: memoryview | None) -> None:
    """Header fields against the signed manifest first (cheap), then the streamed digests."""
    if COMPRESSION_NAMES[entry.method] != expected.compression:
        raise DigestMismatch(entry.name, "compression method")
    if entry.size != expected.size:
        raise DigestMismatch(entry.name, "size")
    if entry.compressed_size != expected.compressed_size:
        raise DigestMismatch(entry.name, "compressed size")
    if entry.crc32 != expected.crc32:
        raise DigestMismatch(entry.name, "crc32")
    measured = hash_member(stream, entry, sink)
    if not hmac.compare_digest(measured.compressed_sha256, expected.compressed_sha256):
        raise DigestMismatch(entry.name, "sha256" if entry.method == STORED else "compressed sha256")
    if measured.size != expected.size or not hmac.compare_digest(measured.sha256, expected.sha256):
        raise DigestMismatch(entry.name, "sha256")
