"""``python -m diabetes_risk_model.training``: the notebook's pipeline without Jupyter (``make train``).

Exit status 0 on success; 2 for bad arguments (argparse); 1 with one readable ``error: ...`` line for
anything this package refuses (no data, wrong columns, no signing key, store unreachable); 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from diabetes_risk_model import __version__
from diabetes_risk_model.errors import ConfigurationError, DiabetesRiskModelError

DESCRIPTION = """Train the diabetes risk model on the real data, sign it into a package and upload it.

Data: --data, else $DIABETES_DATA, else data/diabetes_binary_5050split_health_indicators_BRFSS2015.csv,
else a Kaggle download (needs Kaggle credentials).
Signing key: the keyring file named by MODEL_KEYRING.
Store: MINIO_URL, MINIO_ACCESS_KEY, MINIO_SECRET_KEY, MINIO_SECURE, MODEL_FILES_BUCKET (default model-files)."""


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments (exposed for tests and ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m diabetes_risk_model.training",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="CI and make run: every row, 2 folds, lr/dt/gbc only, 2 tuning iterations",
    )
    parser.add_argument("--data", type=Path, default=None, help="path to the Kaggle CSV (overrides $DIABETES_DATA)")
    parser.add_argument(
        "--output", type=Path, default=Path("output"), help="directory for artifacts/ and the package (default: output)"
    )
    parser.add_argument("--no-upload", action="store_true", help="build the package but do not upload it")
    parser.add_argument(
        "--no-package", action="store_true", help="stop after training (no signing key needed); implies --no-upload"
    )
    parser.add_argument(
        "--package-only",
        action="store_true",
        help="skip training: sign and package <output>/artifacts/ from an earlier run",
    )
    parser.add_argument("--sample-rows", type=int, default=None, help="train on a stratified sample of this many rows")
    parser.add_argument(
        "--parameters-version", default=None, help="package parameters version (default: today's UTC date, YYYY_MM_DD)"
    )
    parser.add_argument("--version", action="version", version=f"diabetes_risk_model {__version__}")
    return parser  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit status."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")  # a CLI never has a display; set before matplotlib loads
    started = time.perf_counter()
    try:
        return _run(args, started)
    except DiabetesRiskModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, started: float) -> int:
    from diabetes_risk_model.storage import published_line
    from diabetes_risk_model.training.package import package_model
    from diabetes_risk_model.training.params import params_for
    from diabetes_risk_model.training.publish import package_pin, publish
    from diabetes_risk_model.training.run import ARTIFACTS_DIR, prepare_data, train

    params = params_for("fast" if args.fast else "full", sample_rows=args.sample_rows)
    output: Path = args.output
    # Refuse missing keys or store settings now, not after an hour of training.
    keyring = None
    store = None
    if not args.no_package:
        from diabetes_risk_model.signing import Keyring

        keyring = Keyring.from_env()
        if not keyring.has_secrets:
            raise ConfigurationError("the keyring named by MODEL_KEYRING holds public keys only; it cannot sign")
        if not args.no_upload:
            from diabetes_risk_model.storage import store_from_env

            store = store_from_env()
    if not args.package_only:
        print(f"mode: {params.mode}")
        prepared = prepare_data(params, args.data)
        print(f"data: {prepared.path} ({len(prepared.full)} rows, sha256 {prepared.sha256[:16]}...)")
        train(params, prepared, output)
    if args.no_package:
        print(f"artifacts in {output / ARTIFACTS_DIR}; not packaged (--no-package)")
    else:
        package = package_model(
            output / ARTIFACTS_DIR, output, keyring=keyring, parameters_version=args.parameters_version
        )
        print(f"package: {package}")
        if args.no_upload:
            print("not uploaded (--no-upload)")
        else:
            object_name = publish(package, store=store, progress=sys.stderr.isatty())
            print(published_line(object_name, package_pin(package, keyring)))
    print(f"wall time: {time.perf_counter() - started:.1f} s")
    return 0
