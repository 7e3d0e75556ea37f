"""Choose a store from a URL, the way configuration files and environment variables name one."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from diabetes_risk_model.config import env_setting, parse_bool
from diabetes_risk_model.errors import ConfigurationError
from diabetes_risk_model.storage.base import ModelStore
from diabetes_risk_model.storage.local import LocalStore
from diabetes_risk_model.storage.minio_store import MinioStore

DEFAULT_BUCKET = "model-files"


def open_store(
    url: str,
    bucket: str,
    access_key: str | None = None,
    secret_key: str | None = None,
    secure: bool = False,
    timeout: float = 5.0,
) -> ModelStore:
    """Return the store *url* names.

    - ``file:///abs/dir``: a :class:`LocalStore` rooted at ``/abs/dir``.
    - ``host:port``: MinIO; TLS as *secure* says.
    - ``http://host:port`` / ``https://host:port``: MinIO; the scheme decides TLS.
    """
    if not url:
        raise ConfigurationError("no store URL given (set MINIO_URL, e.g. 127.0.0.1:9000 or file:///path)")
    if url.startswith("file:"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ConfigurationError(f"file store URL must be file:///absolute/path, got {url!r}")
        root = Path(unquote(parts.path))
        if not root.is_absolute():
            raise ConfigurationError(f"file store URL must be file:///absolute/path, got {url!r}")
        return LocalStore(root, bucket)
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ConfigurationError(f"store URL must be http(s)://host:port with no path, got {url!r}")
        return MinioStore(parts.netloc, bucket, access_key, secret_key, secure=parts.scheme == "https", timeout=timeout)
    if "/" in url:
        raise ConfigurationError(f"store endpoint must be host:port, got {url!r}")
    return MinioStore(url, bucket, access_key, secret_key, secure=secure, timeout=timeout)


def store_from_env(environ: Mapping[str, str] | None = None, bucket: str | None = None) -> ModelStore:
    """The store named by MINIO_URL, MINIO_ACCESS_KEY, MINIO_SECRET_KEY, MINIO_SECURE, MODEL_FILES_BUCKET."""
    env = os.environ if environ is None else environ
    url = env_setting("MINIO_URL", None, env)
    if url is None:
        raise ConfigurationError("MINIO_URL is not set (host:port of MinIO, or file:///path for a local store)")
    return open_store(
        url,
        bucket or env_setting("MODEL_FILES_BUCKET", DEFAULT_BUCKET, env) or DEFAULT_BUCKET,
        access_key=env_setting("MINIO_ACCESS_KEY", None, env),
        secret_key=env_setting("MINIO_SECRET_KEY", None, env),
        secure=parse_bool(env_setting("MINIO_SECURE", "false", env), "MINIO_SECURE"),
    )
