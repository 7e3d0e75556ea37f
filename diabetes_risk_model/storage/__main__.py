"""``python -m diabetes_risk_model.storage``: move packages in and out of the store named by the environment.

    MINIO_URL=127.0.0.1:9000 MINIO_ACCESS_KEY=... MINIO_SECRET_KEY=... \\
        python -m diabetes_risk_model.storage upload artifacts/diabetes_risk_model-0.1.0-2026_11_22.zip

Uploading does not verify: the service verifies what it downloads. Exit 0 on
success; on failure exit 1 with one readable line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diabetes_risk_model.errors import DiabetesRiskModelError
from diabetes_risk_model.storage.factory import store_from_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m diabetes_risk_model.storage",
        description="Upload, download and list model packages in the store named by MINIO_URL "
        "(host:port or file:///dir), MINIO_ACCESS_KEY, MINIO_SECRET_KEY, MINIO_SECURE, MODEL_FILES_BUCKET.",
    )
    parser.add_argument("--bucket", help="bucket (default: $MODEL_FILES_BUCKET or model-files)")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upload", help="upload a package; the bucket is created if missing")
    up.add_argument("path", type=Path)
    up.add_argument("--object", help="object name (default: the file's name)")
    down = commands.add_parser("download", help="download an object to a file")
    down.add_argument("object")
    down.add_argument("destination", type=Path)
    commands.add_parser("list", help="list the bucket's objects")
    args = parser.parse_args(argv)

    try:
        store = store_from_env(bucket=args.bucket)
        if args.command == "upload":
            name = args.object or args.path.name
            store.upload(args.path, name, progress=sys.stderr.isatty())
            print(f"uploaded {args.path} to {store.bucket}/{name}")
        elif args.command == "download":
            store.download(args.object, args.destination)
            print(f"downloaded {store.bucket}/{args.object} to {args.destination}")
        else:
            for name in store.list():
                print(name)
    except DiabetesRiskModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
