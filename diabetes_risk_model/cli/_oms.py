"""``sign-oms`` and ``verify-oms``: OpenSSF Model Signing v1.0 over any model file or directory.

Flags mirror ``model_signing sign|verify key|certificate`` (both the dashed and model_signing's underscored
spellings are accepted). Nothing is unpickled. ``.git*`` at the model's top level is ignored unless
``--no-ignore-git-paths``; symbolic links are refused (there is no ``--allow_symlinks``); encrypted private
keys are not supported (no ``--password``). Exit codes as :mod:`diabetes_risk_model.cli`: 1 refused, 2 usage,
3 configuration.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from diabetes_risk_model.cli._common import UsageError, safe
from diabetes_risk_model.signing.oms import CertificateTrust, OmsSigner, sign_model, verify_model


def _existing(*paths: Path) -> None:
    for given in paths:
        if not given.exists():
            raise UsageError(f"no such file or directory: {safe(str(given))}")


def cmd_sign_oms(args: argparse.Namespace) -> int:
    """Sign a model file or directory; the bundle is written to ``--signature`` atomically."""
    model, signature, key = Path(args.path), Path(args.signature), Path(args.private_key)
    _existing(model, key)
    certificate = chain = None
    if args.method == "certificate":
        certificate = Path(args.signing_certificate)
        chain = [Path(p) for p in args.certificate_chain]
        _existing(certificate, *chain)
    signer = OmsSigner.from_pem(
        key.read_bytes(),
        certificate.read_bytes() if certificate else None,
        [p.read_bytes() for p in chain or ()],
    )
    data = sign_model(
        model,
        signature,
        signer,
        args.ignore_paths,
        ignore_git_paths=args.ignore_git_paths,
        dot_single_file=args.single_file_name == ".",
    )
    print(f"signed: {safe(str(signature))} ({len(data)} bytes, OMS v1.0, method {args.method})")
    return 0


def cmd_verify_oms(args: argparse.Namespace) -> int:
    """Verify an OMS ``key`` (``--public-key``) or ``certificate`` (``--certificate-chain``) signature."""
    model, signature = Path(args.path), Path(args.signature)
    if (args.public_key is None) == (not args.certificate_chain):
        raise UsageError("give either --public-key (key method) or --certificate-chain (certificate method)")
    if args.identity is not None and not args.certificate_chain:
        raise UsageError("--identity needs --certificate-chain")
    anchors = [Path(p) for p in args.certificate_chain]
    _existing(model, signature, *(anchors or [Path(args.public_key)]))
    trust = None
    if anchors:
        trust = CertificateTrust.from_pem(b"".join(p.read_bytes() for p in anchors), args.identity)
    result = verify_model(
        model,
        signature,
        Path(args.public_key).read_bytes() if args.public_key else None,
        args.ignore_paths,
        trust=trust,
        ignore_unsigned_files=args.ignore_unsigned_files,
        ignore_git_paths=args.ignore_git_paths,
    )
    if result.key_form == "rawBytes":
        print("note: older signature format (publicKey.rawBytes); the key in it was compared with --public-key")
    if result.compat_pae:
        print("note: model-signing 0.2 signature encoding (accepted for compatibility)")
    if result.unsigned:
        print(f"note: {len(result.unsigned)} unsigned file(s) not checked (--ignore-unsigned-files)")
    method = "certificate" if result.key_form == "certificate" else "key"
    print(f"verified: OK ({len(result.files)} file(s), predicate {result.statement.predicate_type}, method {method})")
    return 0


def _common(parser: argparse.ArgumentParser, signature_help: str) -> None:
    parser.add_argument("path", help="the model: a file or a directory")
    parser.add_argument("--signature", required=True, help=signature_help)
    parser.add_argument(
        "--ignore-paths",
        "--ignore-path",
        dest="ignore_paths",
        action="append",
        default=[],
        metavar="PATH",
        help="a file or directory of the model that is not signed (repeatable)",
    )
    parser.add_argument(
        "--ignore-git-paths",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=".git, .gitattributes, .github, .gitignore at the model's top level are not signed (default: on)",
    )


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sign-oms {key,certificate}`` and ``verify-oms`` to the CLI's subparsers."""
    sign = sub.add_parser("sign-oms", help="sign any model file or directory as an OMS v1.0 bundle")
    methods = sign.add_subparsers(dest="method", required=True, metavar="{key,certificate}")
    for method, text in (
        ("key", "sign with an ECDSA private key (PEM)"),
        ("certificate", "sign with an ECDSA private key and its X.509 signing certificate and chain (PEM)"),
    ):
        parser = methods.add_parser(method, help=text)
        _common(parser, "the bundle to write (e.g. model.sig; excluded from the model if inside it)")
        parser.add_argument("--private-key", "--private_key", dest="private_key", required=True, metavar="PEM")
        parser.add_argument(
            "--single-file-name",
            choices=("basename", "."),
            default="basename",
            help="a single file's resource name: its file name (spec, the default) or '.' (what model_signing "
            "1.1.1 writes and requires to verify a single file; not spec-conformant)",
        )
        if method == "certificate":
            parser.add_argument(
                "--signing-certificate", "--signing_certificate", dest="signing_certificate", required=True
            )
            parser.add_argument(
                "--certificate-chain",
                "--certificate_chain",
                dest="certificate_chain",
                action="append",
                default=[],
                metavar="PEM",
                help="the CA certificates above the signing certificate, nearest first (repeatable)",
            )
        parser.set_defaults(func=cmd_sign_oms)

    verify = sub.add_parser(
        "verify-oms", help="verify an OpenSSF Model Signing signature over a file or directory (nothing unpickled)"
    )
    _common(verify, "the OMS bundle (e.g. model.sig)")
    verify.add_argument("--public-key", "--public_key", dest="public_key", help="key method: PEM public key (ECDSA)")
    verify.add_argument(
        "--certificate-chain",
        "--certificate_chain",
        dest="certificate_chain",
        action="append",
        default=[],
        metavar="PEM",
        help="certificate method: trusted CA certificate(s) the signing certificate must chain to (repeatable)",
    )
    verify.add_argument("--identity", help="certificate method: required subject (RFC 4514) or subjectAltName value")
    verify.add_argument(
        "--ignore-unsigned-files",
        "--ignore_unsigned_files",
        dest="ignore_unsigned_files",
        action="store_true",
        help="files that are not in the signature are allowed (the signed ones must all be present and match)",
    )
    verify.set_defaults(func=cmd_verify_oms)
