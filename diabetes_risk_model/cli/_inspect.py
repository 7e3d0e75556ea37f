"""``inspect``: what a package claims, shown WITHOUT verifying it.

For looking at a refused or unknown package: every value is labelled unverified, escaped and cut short
(:func:`~._common.safe`), the signed statement is only read when it is within the size limit, and nothing is
unpickled.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

from diabetes_risk_model.cli._common import safe
from diabetes_risk_model.errors import VerificationError
from diabetes_risk_model.signing import DEFAULT_LIMITS, SIGNATURE_NAME
from diabetes_risk_model.signing.legacy import LEGACY_MEMBER
from diabetes_risk_model.signing.oms import Bundle
from diabetes_risk_model.signing.package import unverified_claims

CLAIMS = ("name", "version", "parameters_version", "sequence", "created", "expires", "requirements")


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
        fmt = "oms-v1" if SIGNATURE_NAME in names else "legacy" if LEGACY_MEMBER in names else "unknown"
        print(f"format: {fmt}")
        for info in infos[:256]:
            print(f"member {safe(info.filename, 80)}: {info.file_size} bytes ({info.compress_size} stored)")
        if fmt == "oms-v1":
            info = archive.getinfo(SIGNATURE_NAME)
            if info.file_size > DEFAULT_LIMITS.max_manifest_size:
                raise VerificationError(f"{info.filename} is larger than the limit")
            bundle = Bundle.parse(archive.read(info))
            print(f"signed by key id: {safe(bundle.keyid, 64)}")
            claims = dict(unverified_claims(_json_object(bundle.payload)))
            if not isinstance(claims, dict):
                raise VerificationError("signed payload is not a JSON object")
            for key in CLAIMS:
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


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    inspect = sub.add_parser("inspect", help="list a package's members and claims WITHOUT verifying")
    inspect.add_argument("package")
    inspect.set_defaults(func=cmd_inspect)
