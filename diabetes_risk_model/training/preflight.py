"""Check, before a long command starts, everything it will need; fail in the first second, not after training.

``make train``, ``make reproduce`` and ``make run`` run this first::

    python -m diabetes_risk_model.training.preflight [--notebook PATH] [--no-package] [--no-upload] [--data CSV]

It checks, without training, downloading or connecting: the training data (a CSV, or Kaggle credentials), the
signing keyring (loaded, and able to sign), the store settings when the package is uploaded, and for the
notebook that the file exists and papermill and a ``python3`` Jupyter kernel are installed. Each problem is
one ``error: ...`` line; the exit status is 3 (configuration) if there is any, else 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from diabetes_risk_model.errors import DiabetesRiskModelError

EXIT_CONFIGURATION = 3


def _check_data(data: str | Path | None, environ: Mapping[str, str]) -> str | None:
    from diabetes_risk_model.training.data import check_data_source

    try:
        check_data_source(data, environ)
    except DiabetesRiskModelError as exc:
        return str(exc)
    return None


def _check_signing(environ: Mapping[str, str]) -> str | None:
    from diabetes_risk_model.signing import Keyring

    try:
        ring = Keyring.from_env(environ)
    except DiabetesRiskModelError as exc:
        return f"signing key: {exc}"
    if not ring.has_secrets:
        return "signing key: the keyring named by MODEL_KEYRING holds public keys only; it cannot sign"
    return None


def _check_store(environ: Mapping[str, str]) -> str | None:
    from diabetes_risk_model.storage import store_from_env

    try:
        store_from_env(environ)
    except DiabetesRiskModelError as exc:
        return f"model store: {exc}"
    return None


def _check_notebook(notebook: Path) -> list[str]:
    problems = []
    if not notebook.is_file():
        problems.append(f"notebook {notebook} not found")
    if importlib.util.find_spec("papermill") is None:
        problems.append("papermill is not installed (make install)")
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

        try:
            KernelSpecManager().get_kernel_spec("python3")
        except NoSuchKernel:
            problems.append("no 'python3' Jupyter kernel (pip install ipykernel)")
    except ImportError:
        problems.append("jupyter_client is not installed (make install)")
    return problems


def problems(
    *,
    environ: Mapping[str, str] | None = None,
    data: str | Path | None = None,
    package: bool = True,
    upload: bool = True,
    notebook: Path | None = None,
) -> list[str]:
    """Every reason the command would fail for lack of configuration, one line each (empty: go ahead)."""
    env = os.environ if environ is None else environ
    checks = [_check_data(data, env)]
    if package:
        checks.append(_check_signing(env))
        if upload:
            checks.append(_check_store(env))
    found = [problem for problem in checks if problem]
    if notebook is not None:
        found.extend(_check_notebook(notebook))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Print one ``error:`` line per problem; return 3 if there is any, else 0."""
    parser = argparse.ArgumentParser(prog="python -m diabetes_risk_model.training.preflight", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--data", default=None, help="the CSV the command will be given (else $DIABETES_DATA, ...)")
    parser.add_argument("--notebook", type=Path, default=None, help="the notebook papermill will run")
    parser.add_argument("--no-package", action="store_true", help="the command will not sign (no key needed)")
    parser.add_argument("--no-upload", action="store_true", help="the command will not upload (no store needed)")
    args = parser.parse_args(argv)
    found = problems(data=args.data, package=not args.no_package, upload=not args.no_upload, notebook=args.notebook)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    return EXIT_CONFIGURATION if found else 0


if __name__ == "__main__":
    sys.exit(main())
