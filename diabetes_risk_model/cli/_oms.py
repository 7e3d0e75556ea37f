"""``verify-oms``: check any OpenSSF Model Signing elliptic-key signature over a file or directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from diabetes_risk_model.cli._common import UsageError, safe
from diabetes_risk_model.signing.oms import verify_model


def cmd_verify_oms(args: argparse.Namespace) -> int:
    """Verify an OpenSSF Model Signing signature (any elliptic-key bundle) over a file or directory."""
    model, signature, key = Path(args.path), Path(args.signature), Path(args.public_key)
    for given in (model, signature, key):
        if not given.exists():
            raise UsageError(f"no such file or directory: {safe(str(given))}")
    result = verify_model(model, signature, key.read_bytes(), args.ignore_path)
    if result.key_form == "rawBytes":
        print("note: older signature format (publicKey.rawBytes); the key in it was compared with --public-key")
    if result.compat_pae:
        print("note: model-signing 0.2 signature encoding (accepted for compatibility)")
    print(f"verified: OK ({len(result.files)} file(s), predicate {result.statement.predicate_type})")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    oms = sub.add_parser(
        "verify-oms", help="verify an OpenSSF Model Signing signature over a file or directory (nothing unpickled)"
    )
    oms.add_argument("path", help="the model: a file or a directory")
    oms.add_argument("--signature", required=True, help="the OMS bundle (e.g. model.sig)")
    oms.add_argument("--public-key", required=True, help="PEM public key (ECDSA P-256, P-384 or P-521)")
    oms.add_argument("--ignore-path", action="append", default=[], help="a file or directory not signed (repeatable)")
    oms.set_defaults(func=cmd_verify_oms)
