"""``python -m diabetes_risk_model.storage``: move packages in and out of the store named by the environment.

    MINIO_URL=127.0.0.1:9000 MINIO_ACCESS_KEY=... MINIO_SECRET_KEY=... MODEL_KEYRING=... \\
        python -m diabetes_risk_model.storage upload artifacts/diabetes_risk_model-0.1.0-2026_11_22.zip

Uploading first verifies the package with the keyring from the environment (``MODEL_KEYRING`` and/or
``PARAMETERS_SIGNING_KEY``, as :meth:`Keyring.from_env` reads them), so that what is published is what the
service will accept, and prints one line for the deployment to pin::

    published <object> sequence=<n> sha256=<hex>

(``make kube-config`` and the configs' ``package_sha256``/``min_sequence`` take these two values.) A package
the keyring refuses is not uploaded. Without any keyring in the environment the sequence cannot be read
from a verified manifest: the upload still happens, a warning line on stderr says so, and the line reads
``sequence=unverified``. Exit 0 on success; on failure exit 1 with one readable line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diabetes_risk_model.errors import DiabetesRiskModelError, MissingEnvironmentVariable
from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.signing import Keyring, verify_package
from diabetes_risk_model.storage._published import PackagePin, published_line
from diabetes_risk_model.storage.factory import store_from_env


def published_sequence(path: Path, allow_legacy: bool) -> int:
    """The package's sequence, read from its verified manifest (every format has one).

    :class:`MissingEnvironmentVariable` when the environment names no keyring at all.
    """
    keyring = Keyring.from_env().public()
    verified = verify_package(path, keyring, capture_model=False, allow_legacy=allow_legacy)
    return int(verified.manifest.sequence)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m diabetes_risk_model.storage",
        description="Upload, download and list model packages in the store named by MINIO_URL "
        "(host:port or file:///dir), MINIO_ACCESS_KEY, MINIO_SECRET_KEY, MINIO_SECURE, MODEL_FILES_BUCKET.",
    )
    parser.add_argument("--bucket", help="bucket (default: $MODEL_FILES_BUCKET or model-files)")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upload", help="verify, then upload a package; the bucket is created if missing")
    up.add_argument("path", type=Path)
    up.add_argument("--object", help="object name (default: the file's name)")
    up.add_argument("--allow-legacy", action="store_true", help="accept an original-format signed_model.pkl package")
    down = commands.add_parser("download", help="download an object to a file")
    down.add_argument("object")
    down.add_argument("destination", type=Path)
    commands.add_parser("list", help="list the bucket's objects")
    args = parser.parse_args(argv)

    try:
        if args.command == "upload":
            name = args.object or args.path.name
            sequence: int | None
            try:
                sequence = published_sequence(args.path, args.allow_legacy)
            except MissingEnvironmentVariable:
                sequence = None
                print(
                    "warning: no keyring (MODEL_KEYRING or PARAMETERS_SIGNING_KEY is not set): the package was not "
                    "verified and its sequence is unknown",
                    file=sys.stderr,
                )
            pin = PackagePin(sequence, sha256_file(args.path))
            store = store_from_env(bucket=args.bucket)
            store.upload(args.path, name, progress=sys.stderr.isatty())
            print(published_line(name, pin))
        elif args.command == "download":
            store = store_from_env(bucket=args.bucket)
            store.download(args.object, args.destination)
            print(f"downloaded {store.bucket}/{args.object} to {args.destination}")
        else:
            store = store_from_env(bucket=args.bucket)
            for name in store.list():
                print(name)
    except DiabetesRiskModelError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
