"""``keygen``, ``retire``, ``public``: keyring files (always outside the repository while they hold private keys)."""

from __future__ import annotations

import argparse
from pathlib import Path

from diabetes_risk_model.cli._common import UsageError
from diabetes_risk_model.files import atomic_writer
from diabetes_risk_model.signing import Key, Keyring
from diabetes_risk_model.signing.keys import ALGORITHMS, ECDSA_P256


def cmd_keygen(args: argparse.Namespace) -> int:
    path = Path(args.keyring)
    ring = Keyring.load(path) if path.exists() else Keyring()
    key = Key.generate(args.key_id, args.alg)
    ring = ring.with_key(key)
    ring.save(path)
    print(f"key {key.key_id} ({key.alg}) added to {path} (mode 0600)")
    if args.public_keyring:
        ring.public().save(Path(args.public_keyring))
        print(f"verification keyring written to {args.public_keyring}")
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    path = Path(args.keyring)
    Keyring.load(path).retire(args.key_id).save(path)
    print(f"key {args.key_id} retired in {path}")
    return 0


def cmd_public(args: argparse.Namespace) -> int:
    if bool(args.pem) != bool(args.key_id) or bool(args.pem) == bool(args.output):
        raise UsageError("give either --output RING, or --key-id ID with --pem OUT.pem")
    public = Keyring.load(Path(args.keyring)).public()
    if args.pem:
        pem = public.verifier_for(args.key_id).public_pem()
        with atomic_writer(Path(args.pem)) as out:
            out.write(pem)
        print(f"public key {args.key_id} written to {args.pem} (PEM SubjectPublicKeyInfo)")
        return 0
    public.save(Path(args.output))
    print(f"verification keyring written to {args.output}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keygen = sub.add_parser("keygen", help="create a key and add it to a keyring file (outside the repository)")
    keygen.add_argument("--alg", choices=ALGORITHMS, default=ECDSA_P256, help=f"default: {ECDSA_P256}")
    keygen.add_argument("--key-id", required=True)
    keygen.add_argument("--keyring", required=True, help="keyring file to create or extend (mode 0600)")
    keygen.add_argument("--public-keyring", help="also write the verification-only keyring here")
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
    public.set_defaults(func=cmd_public)
