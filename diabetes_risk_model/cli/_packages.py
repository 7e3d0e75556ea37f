"""``sign``, ``verify``, ``rotate``, ``migrate``: our packages, and the original format (verify, migrate only)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from diabetes_risk_model import __version__
from diabetes_risk_model.cli._common import expectation, keyring, legacy_key, pair
from diabetes_risk_model.errors import BindingMismatch, VerificationError
from diabetes_risk_model.signing import (
    LegacyPackage,
    MemberStatus,
    build_package,
    is_legacy_package,
    migrate_package,
    rotate_package,
    verify_legacy_package,
    verify_package,
)

DEFAULT_NAME = "diabetes_risk_model"


def cmd_sign(args: argparse.Namespace) -> int:
    expires = None
    if args.expires_days is not None:
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=args.expires_days)
    path = build_package(
        Path(args.output_dir),
        name=args.name,
        version=args.version,
        parameters_version=args.parameters_version or datetime.now(UTC).strftime("%Y_%m_%d"),
        model_pickle=Path(args.model),
        extra_members={name: Path(value) for name, value in args.member},
        keyring=keyring(args),
        sequence=args.sequence,
        expires_at=expires,
        requirements=dict(args.requirement) if args.requirement else None,
    )
    print(f"signed package written to {path}")
    return 0


def _print_members(report: list[MemberStatus] | tuple[MemberStatus, ...], legacy: bool) -> None:
    for status in report:
        if legacy and status.detail == "NOT COVERED":
            print(f"member {status.path}: NOT COVERED (the legacy format does not sign this member)")
        elif status.ok:
            print(f"member {status.path}: OK")
        else:
            print(f"member {status.path}: MISMATCH ({status.detail})")


def _print_legacy(verified: LegacyPackage) -> None:
    m = verified.manifest
    print("format: legacy (original design: itsdangerous Signer, HMAC-SHA1, signed_model.pkl only)")
    print(f"name: {m.name} (from the file name, NOT signed)")
    print(f"version: {m.version} (from the file name, NOT signed)")
    print(f"parameters version: {m.parameters_version} (from the file name, NOT signed)")
    print(f"key id: {m.key_id}")
    _print_members(verified.members, legacy=True)
    print(
        "warning: only signed_model.pkl is covered by the legacy signature; other members (e.g. "
        "data_report.html and the unsigned model.pkl) are NOT; no name, version, sequence or expiry is "
        "bound; the service does not serve this format: convert it with `migrate`"
    )


def cmd_verify(args: argparse.Namespace) -> int:
    expect = expectation(args)
    if is_legacy_package(Path(args.package)):
        if expect is not None:
            raise BindingMismatch("format", "oms-v1", "legacy")
        _print_legacy(verify_legacy_package(Path(args.package), legacy_key()))
        print("verified: OK")
        return 0
    report: list[MemberStatus] = []
    try:
        verified = verify_package(Path(args.package), keyring(args), expect, capture_model=False, report=report)
    except VerificationError:
        _print_members(report, legacy=False)
        raise
    m = verified.manifest
    print(f"format: {m.format} (OpenSSF Model Signing signature model.sig, every member covered)")
    print(f"name: {m.name}")
    print(f"version: {m.version}")
    print(f"parameters version: {m.parameters_version}")
    print(f"sequence: {m.sequence}")
    print(f"created: {m.created.isoformat()}")
    print(f"expires: {m.expires.isoformat() if m.expires else 'never'}")
    print(f"key id: {m.key_id} ({m.alg})")
    _print_members(report, legacy=False)
    print("verified: OK")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    ring = keyring(args)
    out = rotate_package(Path(args.package), ring, Path(args.output_dir) if args.output_dir else None)
    print(f"re-signed with key {ring.signing_key().key_id}: {out}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    ring = keyring(args)
    legacy, out = migrate_package(
        Path(args.package),
        legacy_key(),
        ring,
        Path(args.output_dir),
        name=args.name,
        version=args.version,
        parameters_version=args.parameters_version,
        sequence=args.sequence,
    )
    left = ", ".join(legacy.manifest.unsigned_members) or "none"
    print(f"legacy signature OK; signed_model.pkl's pickle carried over, unsigned members left behind: {left}")
    print(f"signed with key {ring.signing_key().key_id}, sequence {args.sequence}: {out}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sign = sub.add_parser("sign", help="build a signed package from a pickle and extra files")
    sign.add_argument("--model", required=True, help="the pickle (stored as model.pkl)")
    sign.add_argument("--member", type=pair, action="append", default=[], metavar="NAME=PATH")
    sign.add_argument("--output-dir", required=True)
    sign.add_argument("--name", default=DEFAULT_NAME)
    sign.add_argument("--version", default=__version__)
    sign.add_argument("--parameters-version", help="default: today's date, YYYY_MM_DD")
    sign.add_argument("--sequence", type=int, help="default: current time in milliseconds")
    sign.add_argument("--expires-days", type=float)
    sign.add_argument(
        "--requirement",
        type=pair,
        action="append",
        metavar="LIB=VERSION",
        help="default: installed versions of the model's libraries",
    )
    sign.add_argument("--keyring")
    sign.set_defaults(func=cmd_sign)

    verify = sub.add_parser(
        "verify", help="verify a package (ours, or the original signed_model.pkl with PARAMETERS_SIGNING_KEY)"
    )
    verify.add_argument("package")
    verify.add_argument("--keyring")
    verify.add_argument("--name")
    verify.add_argument("--version")
    verify.add_argument("--parameters-version")
    verify.add_argument("--min-sequence", type=int)
    verify.set_defaults(func=cmd_verify)

    rotate = sub.add_parser("rotate", help="re-sign a verified package with the newest key (no re-training)")
    rotate.add_argument("package")
    rotate.add_argument("--keyring")
    rotate.add_argument("--output-dir", help="default: replace the package in place (atomically)")
    rotate.set_defaults(func=cmd_rotate)

    migrate = sub.add_parser(
        "migrate",
        help="convert an original-format package (signed_model.pkl, key in PARAMETERS_SIGNING_KEY) into ours",
    )
    migrate.add_argument("package")
    migrate.add_argument("--output-dir", required=True)
    migrate.add_argument("--keyring", help="the signing keyring (default: MODEL_KEYRING)")
    migrate.add_argument("--name", help="default: from the file name")
    migrate.add_argument("--version", help="default: from the file name")
    migrate.add_argument("--parameters-version", help="default: from the file name")
    migrate.add_argument("--sequence", type=int, default=0, help="default: 0 (never outranks a newer build)")
    migrate.set_defaults(func=cmd_migrate)
