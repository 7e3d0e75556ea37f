"""``python -m diabetes_risk_model``: keys, signing, verification, rotation and inspection of model packages.

Exit codes: 0 success; 1 a package was refused (any VerificationError); 2 bad usage; 3 configuration or
input problem (missing key, unreadable file); 70 unexpected internal error. On failure exactly one line
``error: ...`` goes to stderr; it never contains key material or bytes from an unverified file.
Keys come from ``--keyring PATH`` or, by default, from the environment (``MODEL_KEYRING``,
``PARAMETERS_SIGNING_KEY``, ``PARAMETERS_SIGNING_KEY_ID``). ``verify-oms`` needs no keyring: it checks any
OpenSSF Model Signing elliptic-key signature over a file or directory with a PEM public key.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from diabetes_risk_model import __version__
from diabetes_risk_model.cli_inspect import cmd_inspect
from diabetes_risk_model.cli_inspect import safe as _safe
from diabetes_risk_model.errors import DiabetesRiskModelError, VerificationError
from diabetes_risk_model.files import atomic_writer
from diabetes_risk_model.signing import (
    Expectation,
    Key,
    Keyring,
    Manifest,
    MemberStatus,
    build_package,
    rotate_package,
    verify_package,
)
from diabetes_risk_model.signing.keys import ALGORITHMS, ECDSA_P256, HMAC_SHA256
from diabetes_risk_model.signing.oms import verify_model

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_INTERNAL = 70
DEFAULT_NAME = "diabetes_risk_model"


class _UsageError(Exception):
    """Bad command-line values detected after argparse (reported like argparse errors, exit 2)."""


def _keyring(args: argparse.Namespace) -> Keyring:
    return Keyring.load(Path(args.keyring)) if args.keyring else Keyring.from_env()


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError("expected NAME=VALUE")
    return name, value


def _expectation(args: argparse.Namespace) -> Expectation | None:
    given = [args.name, args.version, args.parameters_version]
    if not any(given) and not args.min_sequence:
        return None
    if not all(given):
        raise _UsageError("--name, --version and --parameters-version must be given together")
    return Expectation(args.name, args.version, args.parameters_version, args.min_sequence or 0)


# -- commands ------------------------------------------------------------------------------------------


def cmd_keygen(args: argparse.Namespace) -> int:
    path = Path(args.keyring)
    ring = Keyring.load(path) if path.exists() else Keyring()
    key = Key.generate(args.key_id, {"hmac": HMAC_SHA256}.get(args.alg, args.alg))
    ring = ring.with_key(key)
    ring.save(path)
    print(f"key {key.key_id} ({key.alg}) added to {path} (mode 0600)")
    if args.public_keyring:
        public = ring.public()
        if public.has_secrets and not args.include_hmac:
            raise _UsageError("the keyring holds HMAC keys (symmetric, they can sign); pass --include-hmac to export")
        public.save(Path(args.public_keyring))
        print(f"verification keyring written to {args.public_keyring}")
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    path = Path(args.keyring)
    Keyring.load(path).retire(args.key_id).save(path)
    print(f"key {args.key_id} retired in {path}")
    return 0


def cmd_public(args: argparse.Namespace) -> int:
    if bool(args.pem) != bool(args.key_id) or bool(args.pem) == bool(args.output):
        raise _UsageError("give either --output RING, or --key-id ID with --pem OUT.pem")
    public = Keyring.load(Path(args.keyring)).public()
    if args.pem:
        pem = public.verifier_for(args.key_id).public_pem()
        with atomic_writer(Path(args.pem)) as out:
            out.write(pem)
        print(f"public key {args.key_id} written to {args.pem} (PEM SubjectPublicKeyInfo)")
        return 0
    if public.has_secrets and not args.include_hmac:
        raise _UsageError("the keyring holds HMAC keys (symmetric, they can sign); pass --include-hmac to export")
    public.save(Path(args.output))
    print(f"verification keyring written to {args.output}")
    return 0


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
        keyring=_keyring(args),
        sequence=args.sequence,
        expires_at=expires,
        requirements=dict(args.requirement) if args.requirement else None,
    )
    print(f"signed package written to {path}")
    return 0


def _print_members(report: list[MemberStatus], legacy: bool) -> None:
    for status in report:
        if legacy and status.detail == "NOT COVERED":
            print(f"member {status.path}: NOT COVERED (the legacy format does not sign this member)")
        elif status.ok:
            print(f"member {status.path}: OK")
        else:
            print(f"member {status.path}: MISMATCH ({status.detail})")


def cmd_verify(args: argparse.Namespace) -> int:
    keyring = _keyring(args)
    expect = _expectation(args)
    report: list[MemberStatus] = []
    try:
        verified = verify_package(Path(args.package), keyring, expect, capture_model=False, report=report)
    except VerificationError:
        _print_members(report, legacy=False)
        raise
    m = verified.manifest
    if verified.is_legacy:
        print("format: legacy (original design: itsdangerous Signer, HMAC-SHA1, signed_model.pkl only)")
        print(f"name: {m.name} (from the file name, NOT signed)")
        print(f"version: {m.version} (from the file name, NOT signed)")
        print(f"parameters version: {m.parameters_version} (from the file name, NOT signed)")
        print(f"key id: {m.key_id}")
        _print_members(report, legacy=True)
        print(
            "warning: only signed_model.pkl is covered by the legacy signature; other members (e.g. "
            "data_report.html and the unsigned model.pkl) are NOT; no name, version, sequence or expiry is "
            "bound; loading it for serving is refused unless explicitly allowed"
        )
    else:
        assert isinstance(m, Manifest)
        if m.format == "v1":
            print("format: v1 (deprecated signed manifest.json, every member covered; `rotate` converts it)")
        else:
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
    keyring = _keyring(args)
    out = rotate_package(Path(args.package), keyring, Path(args.output_dir) if args.output_dir else None)
    print(f"re-signed with key {keyring.signing_key().key_id}: {out}")
    return 0


def cmd_verify_oms(args: argparse.Namespace) -> int:
    """Verify an OpenSSF Model Signing signature (any elliptic-key bundle) over a file or directory."""
    model, signature, key = Path(args.path), Path(args.signature), Path(args.public_key)
    for given in (model, signature, key):
        if not given.exists():
            raise _UsageError(f"no such file or directory: {_safe(str(given))}")
    result = verify_model(model, signature, key.read_bytes(), args.ignore_path)
    if result.key_form == "rawBytes":
        print("note: older signature format (publicKey.rawBytes); the key in it was compared with --public-key")
    if result.compat_pae:
        print("note: model-signing 0.2 signature encoding (accepted for compatibility)")
    print(f"verified: OK ({len(result.files)} file(s), predicate {result.statement.predicate_type})")
    return 0


# -- parser --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m diabetes_risk_model",
        description="Sign, verify, rotate and inspect model packages. Keys: --keyring PATH, or MODEL_KEYRING / "
        "PARAMETERS_SIGNING_KEY (+ PARAMETERS_SIGNING_KEY_ID) from the environment.",
    )
    parser.add_argument("--version-info", action="version", version=f"diabetes_risk_model {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    keygen = sub.add_parser("keygen", help="create a key and add it to a keyring file (outside the repository)")
    keygen.add_argument(
        "--alg", choices=(*ALGORITHMS[:3], "ed25519", "hmac"), default=ECDSA_P256, help=f"default: {ECDSA_P256}"
    )
    keygen.add_argument("--key-id", required=True)
    keygen.add_argument("--keyring", required=True, help="keyring file to create or extend (mode 0600)")
    keygen.add_argument("--public-keyring", help="also write the verification-only keyring here")
    keygen.add_argument("--include-hmac", action="store_true", help="allow HMAC secrets in the public keyring")
    keygen.set_defaults(func=cmd_keygen)

    retire = sub.add_parser("retire", help="mark a key as retired (packages signed with it are refused)")
    retire.add_argument("key_id")
    retire.add_argument("--keyring", required=True)
    retire.set_defaults(func=cmd_retire)

    public = sub.add_parser(
        "public", help="write the verification-only view of a keyring, or one public key as PEM (--key-id, --pem)"
    )
    public.add_argument("--keyring", required=True)
    public.add_argument("--output", help="verification-only keyring file to write")
    public.add_argument("--key-id", help="with --pem: the key to export")
    public.add_argument("--pem", help="write the key's PEM SubjectPublicKeyInfo here (for model_signing)")
    public.add_argument("--include-hmac", action="store_true")
    public.set_defaults(func=cmd_public)

    sign = sub.add_parser("sign", help="build a signed package from a pickle and extra files")
    sign.add_argument("--model", required=True, help="the pickle (stored as model.pkl)")
    sign.add_argument("--member", type=_pair, action="append", default=[], metavar="NAME=PATH")
    sign.add_argument("--output-dir", required=True)
    sign.add_argument("--name", default=DEFAULT_NAME)
    sign.add_argument("--version", default=__version__)
    sign.add_argument("--parameters-version", help="default: today's date, YYYY_MM_DD")
    sign.add_argument("--sequence", type=int, help="default: current time in milliseconds")
    sign.add_argument("--expires-days", type=float)
    sign.add_argument(
        "--requirement",
        type=_pair,
        action="append",
        metavar="LIB=VERSION",
        help="default: installed versions of the model's libraries",
    )
    sign.add_argument("--keyring")
    sign.set_defaults(func=cmd_sign)

    verify = sub.add_parser("verify", help="verify a package (our format or the original signed_model.pkl)")
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

    inspect = sub.add_parser("inspect", help="list a package's members and claims WITHOUT verifying")
    inspect.add_argument("package")
    inspect.set_defaults(func=cmd_inspect)

    oms = sub.add_parser(
        "verify-oms", help="verify an OpenSSF Model Signing signature over a file or directory (nothing unpickled)"
    )
    oms.add_argument("path", help="the model: a file or a directory")
    oms.add_argument("--signature", required=True, help="the OMS bundle (e.g. model.sig)")
    oms.add_argument("--public-key", required=True, help="PEM public key (ECDSA P-256, P-384 or P-521)")
    oms.add_argument("--ignore-path", action="append", default=[], help="a file or directory not signed (repeatable)")
    oms.set_defaults(func=cmd_verify_oms)
    return parser


def _fail(message: str, code: int) -> int:
    print("error: " + " ".join(message.split()), file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except _UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except VerificationError as exc:
        return _fail(f"refused ({type(exc).__name__}): {exc}", EXIT_REFUSED)
    except DiabetesRiskModelError as exc:
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_CONFIG)
    except FileNotFoundError as exc:
        return _fail(f"file not found: {exc.filename}", EXIT_CONFIG)
    except OSError as exc:
        return _fail(f"{type(exc).__name__}: {exc.strerror or 'I/O error'}", EXIT_CONFIG)
    except Exception as exc:  # one readable line instead of a traceback
        return _fail(f"unexpected {type(exc).__name__}", EXIT_INTERNAL)
