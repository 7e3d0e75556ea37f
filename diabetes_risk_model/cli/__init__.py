"""``python -m diabetes_risk_model``: keys, signing, verification, rotation, migration and inspection of packages.

Exit codes: 0 success; 1 a package was refused (any VerificationError); 2 bad usage; 3 configuration or
input problem (missing key, unreadable file); 70 unexpected internal error. On failure exactly one line
``error: ...`` goes to stderr; it never contains key material or bytes from an unverified file.
Keys come from ``--keyring PATH`` or the file named by ``MODEL_KEYRING``; the original format's HMAC key (for
``verify`` and ``migrate`` of a ``signed_model.pkl`` package) from ``PARAMETERS_SIGNING_KEY``. ``sign-oms`` and
``verify-oms`` need no keyring: they sign and check OpenSSF Model Signing v1.0 signatures over any file or
directory, by PEM key or by X.509 certificate.
Commands by family: :mod:`._keys`, :mod:`._packages`, :mod:`._inspect`, :mod:`._oms`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from diabetes_risk_model import __version__
from diabetes_risk_model.cli import _inspect, _keys, _oms, _packages
from diabetes_risk_model.cli._common import EXIT_CONFIG, EXIT_INTERNAL, EXIT_REFUSED, EXIT_USAGE, UsageError
from diabetes_risk_model.errors import DiabetesRiskModelError, VerificationError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m diabetes_risk_model",
        description="Sign, verify, rotate, migrate and inspect model packages. Keys: --keyring PATH, or "
        "MODEL_KEYRING from the environment (PARAMETERS_SIGNING_KEY: the original format's key).",
    )
    parser.add_argument("--version-info", action="version", version=f"diabetes_risk_model {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for family in (_keys, _packages, _inspect, _oms):
        family.add_commands(sub)
    return parser


def _fail(message: str, code: int) -> int:
    print("error: " + " ".join(message.split()), file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
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


__all__ = ["build_parser", "main"]
