"""The signed payload of an OMS signature: an in-toto Statement v1 with the model-signing predicate.

``predicateType`` ``https://model_signing/signature/v1.0`` (OMS v1.0, model-signing 0.3.1 onwards): one
subject whose SHA-256 digest is SHA-256 over the concatenated raw digests of ``predicate.resources`` in
their listed order (spec §6.5.1), and ``predicate.serialization`` saying how the resources were made
(``method: files``, ``hash_type: sha256``). The v1.0 predicate is closed (only ``resources`` and
``serialization``); what else a producer binds goes into in-toto ``annotations`` of the subject and of the
resource descriptors, which the schemas allow and verifiers ignore (our packages do, see
:mod:`diabetes_risk_model.signing.package`). ``https://model_signing/Digests/v0.1`` (model-signing 0.2):
one subject per file, no serialization block.

:func:`statement_json` writes what spec §5-6 require: resources sorted by name, at least one, the root
digest, ``subject[0].name`` as given (the model path's basename), ``ignore_paths`` recorded.

:func:`parse_statement` checks everything that can be checked without the files: types, one subject, at
least one resource, the subject digest against the resources, names
(:func:`diabetes_risk_model.names.check_name`, not portable; ``.`` only as the one resource of a
single-file model, as model-signing names it), no duplicates. Only ``files`` serialization with SHA-256 is
supported.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from diabetes_risk_model.errors import InconsistentStatement, MalformedBundle, UnsafeResourceName
from diabetes_risk_model.names import MAX_NAME_LENGTH, check_name

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
PREDICATE_TYPE_COMPAT = "https://model_signing/Digests/v0.1"
SINGLE_FILE = "."
SERIALIZATION = {"method": "files", "hash_type": "sha256", "allow_symlinks": False}
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Resource:
    """One signed file: its name relative to the model root (a single-file model: the file's name) and
    digest; ``annotations`` is the in-toto resource descriptor field (``None``: absent)."""

    name: str
    digest: str  # hex SHA-256
    algorithm: str = "sha256"
    annotations: Mapping[str, Any] | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"algorithm": self.algorithm, "digest": self.digest, "name": self.name}
        if self.annotations is not None:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class Statement:
    """A parsed statement; ``predicate`` and ``subject`` are the whole JSON objects (extra fields included)."""

    subject_name: str
    resources: tuple[Resource, ...]
    predicate_type: str = PREDICATE_TYPE
    ignore_paths: tuple[str, ...] = ()
    predicate: Mapping[str, Any] = field(default_factory=dict)
    subject: Mapping[str, Any] = field(default_factory=dict)

    def digests(self) -> dict[str, str]:
        return {r.name: r.digest for r in self.resources}


def subject_digest(resources: Sequence[Resource]) -> str:
    """SHA-256 over the concatenated raw resource digests, in the listed order (model-signing 1.x)."""
    sha = hashlib.sha256()
    for resource in resources:
        sha.update(bytes.fromhex(resource.digest))
    return sha.hexdigest()


def statement_json(
    subject_name: str,
    resources: Sequence[Resource],
    *,
    ignore_paths: Sequence[str] = (),
    subject_annotations: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The statement we sign: resources sorted by name (at least one), ``serialization`` as
    :data:`SERIALIZATION` plus the sorted ``ignore_paths``, the subject named *subject_name*."""
    if not resources:
        raise ValueError("an OMS statement lists at least one resource")
    ordered = sorted(resources, key=lambda r: r.name)
    subject: dict[str, Any] = {"digest": {"sha256": subject_digest(ordered)}, "name": subject_name}
    if subject_annotations is not None:
        subject["annotations"] = dict(subject_annotations)
    serialization: dict[str, Any] = dict(SERIALIZATION)
    if ignore_paths:
        serialization["ignore_paths"] = sorted(set(ignore_paths))
    return {
        "_type": STATEMENT_TYPE,
        "predicate": {"resources": [r.to_json() for r in ordered], "serialization": serialization},
        "predicateType": PREDICATE_TYPE,
        "subject": [subject],
    }


def parse_statement(payload: bytes, max_name_length: int = MAX_NAME_LENGTH) -> Statement:
    """Parse a (signature-verified) payload; :class:`MalformedBundle`, :class:`UnsafeResourceName` or
    :class:`InconsistentStatement` on anything the spec does not allow."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedBundle("signed payload is not JSON") from None
    if not isinstance(data, dict) or data.get("_type") != STATEMENT_TYPE:
        raise MalformedBundle(f"signed payload is not an in-toto statement ({STATEMENT_TYPE})")
    subjects = data.get("subject")
    if not isinstance(subjects, list) or not subjects or not all(isinstance(s, dict) for s in subjects):
        raise MalformedBundle("statement has no subject")
    kind = data.get("predicateType")
    if kind == PREDICATE_TYPE_COMPAT:
        resources = tuple(_resource(s.get("name"), "sha256", _sha256_of(s)) for s in subjects)
        _check_names(resources, max_name_length)
        return Statement("", resources, kind)
    if kind != PREDICATE_TYPE:
        raise MalformedBundle(f"statement predicateType is not {PREDICATE_TYPE}")
    if len(subjects) != 1 or not isinstance(subjects[0].get("name", ""), str):
        raise MalformedBundle("statement must have exactly one subject")
    predicate = data.get("predicate")
    if not isinstance(predicate, dict) or not isinstance(predicate.get("resources"), list):
        raise MalformedBundle("statement predicate has no resource list")
    ignore = _serialization(predicate.get("serialization"))
    resources = tuple(
        _resource(r.get("name"), r.get("algorithm"), r.get("digest"), r.get("annotations"))
        if isinstance(r, dict)
        else _bad()
        for r in predicate["resources"]
    )
    if not resources:
        raise MalformedBundle("statement predicate.resources is empty (at least one resource is required)")
    _check_names(resources, max_name_length)
    if subject_digest(resources) != _sha256_of(subjects[0]):
        raise InconsistentStatement("statement subject digest does not match its resources")
    return Statement(subjects[0].get("name", ""), resources, kind, ignore, predicate, subjects[0])


def _bad() -> Resource:
    raise MalformedBundle("statement resource is not an object")


def _sha256_of(subject: Mapping[str, Any]) -> str:
    digest = subject.get("digest")
    value = digest.get("sha256") if isinstance(digest, dict) else None
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise MalformedBundle("statement subject has no SHA-256 digest")
    return value


def _resource(name: Any, algorithm: Any, digest: Any, annotations: Any = None) -> Resource:
    if not isinstance(name, str) or not isinstance(digest, str):
        raise MalformedBundle("statement resource has no name or digest")
    if algorithm != "sha256" or not _HEX64.fullmatch(digest):
        raise MalformedBundle("statement resource is not a SHA-256 digest (only sha256 is supported)")
    return Resource(name, digest, algorithm, annotations if isinstance(annotations, dict) else None)


def _serialization(value: Any) -> tuple[str, ...]:
    if not isinstance(value, dict):
        raise MalformedBundle("statement predicate has no serialization block")
    if value.get("method") != "files":
        raise MalformedBundle("only the 'files' serialization method is supported")
    if value.get("hash_type") != "sha256":
        raise MalformedBundle("only the sha256 hash type is supported")
    if value.get("allow_symlinks") not in (False, True, "false", "true"):
        raise MalformedBundle("serialization.allow_symlinks is not a boolean")
    ignore = value.get("ignore_paths", [])
    if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
        raise MalformedBundle("serialization.ignore_paths is not a list of strings")
    return tuple(ignore)


def _check_names(resources: Sequence[Resource], max_name_length: int) -> None:
    names = [r.name for r in resources]
    if len(set(names)) != len(names):
        raise UnsafeResourceName("statement lists a resource name twice")
    if names == [SINGLE_FILE]:
        return
    for name in names:
        check_name(name, max_length=max_name_length, portable=False, error=UnsafeResourceName)
