"""``python -m diabetes_risk_model inspect``: what a package claims, shown WITHOUT verifying it.

For looking at a refused or unknown package: every value is labelled unverified, escaped and cut short
(:func:`safe`), the signed statement is only read when it is within the size limit, and nothing is unpickled.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

from diabetes_risk_model.errors import VerificationError
from diabetes_risk_model.signing.legacy import LEGACY_MEMBER
from diabetes_risk_model.signing.oms import Bundle
from diabetes_risk_model.signing.package import DEFAULT_LIMITS, MANIFEST_NAME, SIGNATURE_NAME, Envelope


def safe(value: object, limit: int = 120) -> str:
    """Printable, escaped, bounded rendering of a value read from an unverified file."""
    text = ascii(value)
    return text if len(text) <= limit else text[:limit] + "..."


# -- commands ------------------------------------------------------------------------------------------


def cmd_inspect(args: argparse.Namespace) -> int:
    """Show what a package claims, WITHOUT verifying it (every value is escaped and labelled)."""
    path = Path(args.package)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise VerificationError("not a readable zip archive") from None
    with archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        print("UNVERIFIED contents (run `verify` to check them):")
        fmt = "oms-v1" if SIGNATURE_NAME in names else "v1" if MANIFEST_NAME in names else None
        fmt = fmt or ("legacy" if LEGACY_MEMBER in names else "unknown")
        print(f"format: {fmt}")
        for info in infos[:256]:
            print(f"member {safe(info.filename, 80)}: {info.file_size} bytes ({info.compress_size} stored)")
        if fmt in ("v1", "oms-v1"):
            info = archive.getinfo(SIGNATURE_NAME if fmt == "oms-v1" else MANIFEST_NAME)
            if info.file_size > DEFAULT_LIMITS.max_manifest_size:
                raise VerificationError(f"{info.filename} is larger than the limit")
            if fmt == "v1":
                envelope = Envelope.from_bytes(archive.read(info))
                print(f"signed by key id: {envelope.key_id} ({safe(envelope.alg, 40)})")
                claims: object = _json_object(envelope.payload)
            else:
                bundle = Bundle.parse(archive.read(info))
                print(f"signed by key id: {safe(bundle.keyid, 64)}")
                predicate = _json_object(bundle.payload).get("predicate", {})
                claims = predicate.get("package", {}) if isinstance(predicate, dict) else {}
            if not isinstance(claims, dict):
                raise VerificationError("signed payload is not a JSON object")
            for key in ("name", "version", "parameters_version", "sequence", "created", "expires", "requirements"):
                print(f"claims {key}: {safe(claims.get(key))}")
    return 0


def _json_object(payload: bytes) -> dict[str, object]:
    try:
        value = json.loads(payload)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise VerificationError("signed payload is not a JSON object")
    return value
