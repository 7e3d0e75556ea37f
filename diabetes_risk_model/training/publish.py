"""Step 7: upload the package to the model store (MinIO/S3, or a directory for ``file://`` URLs).

Endpoint, credentials, TLS and bucket come from the environment (``MINIO_URL``, ``MINIO_ACCESS_KEY``,
``MINIO_SECRET_KEY``, ``MINIO_SECURE``, ``MODEL_FILES_BUCKET``, default bucket ``model-files``); the store
creates the bucket if it is missing. The object name is the package's file name, as the service expects.

Whoever publishes prints :func:`diabetes_risk_model.storage.published_line` of :func:`package_pin`:
``published <object> sequence=<n> sha256=<hex>``, what a pinned deployment needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diabetes_risk_model.errors import ConfigurationError

if TYPE_CHECKING:
    from diabetes_risk_model.storage import PackagePin


def package_pin(package: Path, keyring: Any) -> PackagePin:
    """The package's sequence (read from its verified manifest; every format has one) and its file digest."""
    from diabetes_risk_model.files import sha256_file
    from diabetes_risk_model.signing import verify_package
    from diabetes_risk_model.storage import PackagePin

    sequence = verify_package(Path(package), keyring, capture_model=False).manifest.sequence
    return PackagePin(int(sequence), sha256_file(package))


def publish(package: Path, store: Any | None = None, environ: Mapping[str, str] | None = None,
            progress: bool = True) -> str:  # fmt: skip
    """Upload *package* under its own file name; return that object name."""
    from diabetes_risk_model.storage import store_from_env

    package = Path(package)
    if not package.is_file():
        raise ConfigurationError(f"package {package} does not exist")
    target = store_from_env(environ) if store is None else store
    target.upload(package, package.name, progress=progress)
    return package.name
