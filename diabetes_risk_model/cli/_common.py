"""What every command shares: exit codes, usage errors, where keys come from, escaping unverified text."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from diabetes_risk_model.errors import MissingEnvironmentVariable
from diabetes_risk_model.signing import Expectation, Keyring

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_INTERNAL = 70
LEGACY_KEY_ENV = "PARAMETERS_SIGNING_KEY"
"""Where ``verify`` and ``migrate`` find the original format's HMAC key (never on the command line)."""


class UsageError(Exception):
    """Bad command-line values detected after argparse (reported like argparse errors, exit 2)."""


def keyring(args: argparse.Namespace) -> Keyring:
    """``--keyring PATH``, else the file named by ``MODEL_KEYRING``."""
    return Keyring.load(Path(args.keyring)) if args.keyring else Keyring.from_env()


def legacy_key() -> str:
    """The original format's HMAC key, from :data:`LEGACY_KEY_ENV`."""
    secret = os.environ.get(LEGACY_KEY_ENV)
    if not secret:
        raise MissingEnvironmentVariable(LEGACY_KEY_ENV, "the original-format package's HMAC key")
    return secret


def pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError("expected NAME=VALUE")
    return name, value


def expectation(args: argparse.Namespace) -> Expectation | None:
    given = [args.name, args.version, args.parameters_version]
    if not any(given) and not args.min_sequence:
        return None
    if not all(given):
        raise UsageError("--name, --version and --parameters-version must be given together")
    return Expectation(args.name, args.version, args.parameters_version, args.min_sequence or 0)


def safe(value: object, limit: int = 120) -> str:
    """Printable, escaped, bounded rendering of a value read from an unverified file."""
    text = ascii(value)
    return text if len(text) <= limit else text[:limit] + "..."
