"""Writing packages: build a new one from training outputs, or re-sign (rotate) a verified one.

A package (format ``oms-v1``) is a canonical zip (see :mod:`._archive`) whose members are sorted by name and
followed by ``model.sig``, an OpenSSF Model Signing signature (see :mod:`._bindings`) whose statement
lists every other member — ``model.pkl`` included — with its digest, and whose bindings record sizes, CRC and
stored digests, so the package contains no unsigned pickle. Each member is read once: hashed, CRC'd and
(if deflated) compressed while it is copied into the zip. ``model.pkl`` is stored uncompressed: what is
hashed is byte-for-byte what is unpickled. Files are written through
:func:`diabetes_risk_model.files.atomic_writer`, so a crash never leaves a half-written package under the
final name.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from diabetes_risk_model.errors import ConfigurationError, DigestMismatch
from diabetes_risk_model.files import atomic_writer
from diabetes_risk_model.names import check_name
from diabetes_risk_model.signing._time import now_utc
from diabetes_risk_model.signing.keys import Key, Keyring
from diabetes_risk_model.signing.package._archive import COMPRESSION_NAMES, ZipEntry, member_chunks, read_directory
from diabetes_risk_model.signing.package._bindings import sign_package
from diabetes_risk_model.signing.package._limits import DEFAULT_LIMITS, Limits
from diabetes_risk_model.signing.package._manifest import (
    _TOKEN,
    MODEL_MEMBER,
    RESERVED_NAMES,
    SIGNATURE_NAME,
    Manifest,
    MemberEntry,
)
from diabetes_risk_model.signing.package._verify import Expectation, verify_package
from diabetes_risk_model.signing.package._zip_writer import CanonicalZipWriter, WrittenMember, file_chunks

DEFAULT_REQUIREMENTS = ("python", "pycaret", "scikit-learn", "numpy", "pandas", "scipy", "lightgbm", "joblib")
_ALREADY_COMPRESSED = (".png", ".jpg", ".jpeg", ".gif", ".zip", ".gz", ".pkl")

ChunkSource = Callable[[], Iterable[bytes | memoryview]]


def package_file_name(name: str, version: str, parameters_version: str) -> str:
    """``{name}-{version}-{parameters_version}.zip`` — the object name in the model store too."""
    return f"{name}-{version}-{parameters_version}.zip"


def installed_requirements(names: Iterable[str] = DEFAULT_REQUIREMENTS) -> dict[str, str]:
    """Versions of the libraries the pickle needs, read from installed metadata (nothing is imported)."""
    from importlib import metadata  # here, not at the top: it costs every CLI start about 12 ms

    found: dict[str, str] = {}
    for dist in names:
        if dist == "python":
            found["python"] = ".".join(map(str, sys.version_info[:3]))
            continue
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[dist] = metadata.version(dist)
    return found


def build_package(
    output_dir: Path,
    *,
    name: str,
    version: str,
    parameters_version: str,
    model_pickle: Path,
    extra_members: Mapping[str, Path],
    keyring: Keyring,
    sequence: int | None = None,
    expires_at: datetime | None = None,
    requirements: Mapping[str, str] | None = None,
    created: datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
    certificate_chain: Sequence[bytes] = (),
) -> Path:
    """Sign and write ``output_dir / "{name}-{version}-{parameters_version}.zip"`` atomically.

    Signs with ``keyring.signing_key()`` (the newest active key). ``sequence=None`` uses the creation time
    in milliseconds since the epoch, which only grows. ``requirements=None`` records the installed versions
    of :data:`DEFAULT_REQUIREMENTS`. ``created=None`` uses the current time (whole seconds, UTC); a package
    built twice with the same ``created`` and inputs has the same members and signed statement.
    ``extra_members`` maps archive names (e.g. ``"plots/auc.png"``) to files; ``model.pkl``, ``model.sig``
    and ``signed_model.pkl`` (the original format's member) are reserved names.
    ``certificate_chain`` (DER, the signing certificate first, for the signing key) signs by the OMS
    ``certificate`` method instead of ``key``.
    """
    for label, value in (("name", name), ("version", version), ("parameters_version", parameters_version)):
        if not _TOKEN.fullmatch(value):
            raise ConfigurationError(f"{label} must match [A-Za-z0-9][A-Za-z0-9._+-]* (max 128 characters)")
    for member in extra_members:
        if member in RESERVED_NAMES:
            raise ConfigurationError(f"member name {member!r} is reserved")
        check_name(member, max_length=limits.max_name_length)
    paths = {MODEL_MEMBER: Path(model_pickle), **{k: Path(v) for k, v in extra_members.items()}}
    for member, file in paths.items():
        if not file.is_file():
            raise ConfigurationError(f"file for member {member!r} does not exist")
    if created is None:
        created = now_utc()
    elif created.tzinfo is None or created.microsecond:
        raise ConfigurationError("created must be timezone-aware, in whole seconds")
    manifest_fields = {
        "name": name,
        "version": version,
        "parameters_version": parameters_version,
        "sequence": int(time.time() * 1000) if sequence is None else sequence,
        "created": created,
        "expires": expires_at,
        "requirements": dict(installed_requirements() if requirements is None else requirements),
        "model": MODEL_MEMBER,
    }
    if manifest_fields["sequence"] < 0:  # type: ignore[operator]
        raise ConfigurationError("sequence must be >= 0")
    sources = {member: _file_source(file) for member, file in paths.items()}
    target = Path(output_dir) / package_file_name(name, version, parameters_version)
    return _write(
        target, sources, manifest_fields, keyring.signing_key(), limits, expected=None, certificates=certificate_chain
    )


def rotate_package(
    path: Path,
    keyring: Keyring,
    output_dir: Path | None = None,
    *,
    expect: Expectation | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Path:
    """Re-sign a verified package with the keyring's newest key, without re-training.

    The old signature must still verify (its key present and not yet retired): rotate first, retire the old
    key afterwards. Member bytes, name, version, parameters version, ``created``, ``expires``, requirements
    and — deliberately — ``sequence`` are kept: rotation republishes the same model, and giving an old
    package a new, higher sequence would let it roll back a newer one. The copied bytes are re-hashed while
    writing and must equal the verified manifest's digests. Writes to ``output_dir`` (default: in place),
    atomically.
    """
    verified = verify_package(path, keyring, expect, limits=limits, capture_model=False)
    old = verified.manifest
    src = open(path, "rb")  # noqa: SIM115 - closed below
    with src:
        entries = {e.name: e for e in read_directory(src, os.fstat(src.fileno()).st_size, limits)}
        sources: dict[str, ChunkSource] = {m.path: _member_source(src, entries[m.path]) for m in old.members}
        fields = {
            "name": old.name,
            "version": old.version,
            "parameters_version": old.parameters_version,
            "sequence": old.sequence,
            "created": old.created,
            "expires": old.expires,
            "requirements": dict(old.requirements),
            "model": old.model,
        }
        target = Path(output_dir or Path(path).parent) / Path(path).name
        compress = {m.path: m.compression == "deflate" for m in old.members}
        return _write(target, sources, fields, keyring.signing_key(), limits, expected=old, compress=compress)


def _member_source(stream: BinaryIO, entry: ZipEntry) -> ChunkSource:
    return lambda: member_chunks(stream, entry)


def _file_source(file: Path) -> ChunkSource:
    def chunks() -> Iterator[memoryview]:
        with open(file, "rb") as stream:
            yield from file_chunks(stream)

    return chunks


def _write(
    target: Path,
    sources: Mapping[str, ChunkSource],
    fields: Mapping[str, object],
    key: Key,
    limits: Limits,
    expected: Manifest | None,
    compress: Mapping[str, bool] | None = None,
    certificates: Sequence[bytes] = (),
) -> Path:
    with atomic_writer(target) as out:
        writer = CanonicalZipWriter(out, limits)
        written: list[WrittenMember] = []
        for member in sorted(sources):
            deflate = compress[member] if compress else not member.lower().endswith(_ALREADY_COMPRESSED)
            written.append(writer.add_chunks(member, sources[member](), compress=deflate))
        entries = tuple(
            MemberEntry(
                path=w.name,
                size=w.size,
                sha256=w.sha256,
                compression=COMPRESSION_NAMES[w.method],
                compressed_size=w.compressed_size,
                compressed_sha256=w.compressed_sha256,
                crc32=w.crc32,
            )
            for w in written
        )
        if expected is not None:
            _same_content(expected, entries)
        manifest = Manifest(members=entries, key_id=key.key_id, alg=key.alg, **fields)  # type: ignore[arg-type]
        writer.add_chunks(SIGNATURE_NAME, [sign_package(manifest, key, certificates)], compress=False)
        writer.close()
    return target


def _same_content(expected: Manifest, written: tuple[MemberEntry, ...]) -> None:
    """Rotation guard: the bytes copied must be the bytes that were verified."""
    for entry in written:
        if entry.size != expected.member(entry.path).size or not hmac.compare_digest(
            entry.sha256, expected.member(entry.path).sha256
        ):
            raise DigestMismatch(entry.path, "sha256 (changed while re-signing)")
