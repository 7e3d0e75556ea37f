"""The OMS v1.0 conformance check of the tests: the spec's JSON Schemas through ``jsonschema`` (the oracle,
``../shared/oms-spec/schemas/v1.0``), plus the spec-text rules the schemas cannot express.

:func:`violations` returns one line per problem (empty: conforming). Schema problems come verbatim from
``jsonschema``; the spec-text rules are §5.2.1 (at least one resource, sorted by name), §6.1.2
(canonical relative POSIX names, a single file named by its basename), §6.5.1 (the root digest).
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from pathlib import PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.support.signing import SHARED

SPEC = SHARED / "oms-spec"
SCHEMAS = SPEC / "schemas" / "v1.0"
VECTORS = SPEC / "test-vectors" / "v1.0"


@cache
def _validators() -> tuple[Draft202012Validator, Draft202012Validator]:
    schemas = {p.name: json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.schema.json"))}
    assert set(schemas) == {
        "bundle.schema.json",
        "envelope.schema.json",
        "statement.schema.json",
        "predicate.schema.json",
    }
    registry: Registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    bundle = Draft202012Validator(schemas["bundle.schema.json"], registry=registry)
    statement = Draft202012Validator(schemas["statement.schema.json"], registry=registry)
    return bundle, statement


def _schema_errors(validator: Draft202012Validator, instance: Any, where: str) -> list[str]:
    return [f"{where}{e.json_path[1:]}: {e.message}" for e in validator.iter_errors(instance)]


def statement_of(bundle: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))


def violations(bundle_bytes: bytes, single_file: bool | None = None) -> list[str]:
    """Every schema and spec-text violation of an OMS bundle (see the module docstring).

    *single_file*: whether the signed model is one file (then its one resource must be a basename).
    """
    bundle_validator, statement_validator = _validators()
    try:
        bundle = json.loads(bundle_bytes)
    except ValueError:
        return ["bundle: not JSON"]
    problems = _schema_errors(bundle_validator, bundle, "bundle $")
    try:
        statement = statement_of(bundle)
    except (KeyError, TypeError, ValueError):
        return [*problems, "statement: the DSSE payload is missing or not base64 JSON"]
    problems += _schema_errors(statement_validator, statement, "statement $")
    if problems:
        return problems
    return problems + _spec_text(statement, single_file)


def _spec_text(statement: dict[str, Any], single_file: bool | None) -> list[str]:
    resources = statement["predicate"]["resources"]
    names = [r["name"] for r in resources]
    out = []
    if not resources:
        out.append("§5.2.1: resources must contain at least one entry")
    if names != sorted(names):
        out.append("§5.2.1: resources must be sorted by name (code point order)")
    if len(set(names)) != len(names):
        out.append("§6.4: resource names must be unique")
    for name in names:
        canonical = str(PurePosixPath(name))
        if name.startswith("/") or ".." in name.split("/") or canonical != name or name.endswith("/") or name == ".":
            out.append(f"§6.1.2: resource name {name!r} is not a canonical relative POSIX path")
    if single_file and (len(names) != 1 or "/" in names[0]):
        out.append("§6.1.2 rule 5: a single-file model's resource is its basename")
    root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    if statement["subject"][0]["digest"].get("sha256") != root:
        out.append("§6.5.1: subject[0].digest.sha256 is not the root digest of the resources")
    return out
