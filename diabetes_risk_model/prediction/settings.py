"""The model's settings: read from the YAML configuration (``${NAME}`` = environment variable), validated once.

Every setting may be written ``${NAME}``; it is read from the environment here
(:func:`diabetes_risk_model.config.expand_env`) and a missing variable raises
:class:`MissingEnvironmentVariable` naming it. An empty value counts as unset. Parsing opens no file: the
keyring named by ``keyring_path`` is loaded, once, by the loader (:func:`.loading.verification_keyring`).
Nothing secret is ever put in a log line, an exception message or a ``repr``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diabetes_risk_model.config import expand_env, parse_bool
from diabetes_risk_model.errors import ConfigurationError
from diabetes_risk_model.prediction.retry import RetryPolicy

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

#: ``feature_check`` values: refuse a pipeline whose features are not the API's inputs, or only warn.
FEATURE_CHECK_MODES = ("refuse", "warn")


def setting(value: Any, name: str, required: bool = False) -> Any:
    """Expand ``${NAME}``; treat an empty value as unset; complain (naming the setting) when required."""
    value = expand_env(value)
    if isinstance(value, str) and value.strip() == "":
        value = None
    if required and value is None:
        raise ConfigurationError(f"setting {name} is required", setting=name)
    return value


def number(value: Any, name: str, kind: Callable[[Any], Any]) -> Any:
    """A required numeric setting; a non-number is a :class:`ConfigurationError` naming the setting."""
    value = setting(value, name, True)
    if isinstance(value, bool):
        raise ConfigurationError(f"setting {name} must be a number", setting=name)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"setting {name} must be a number", setting=name) from None


def flag(value: Any, name: str, default: bool) -> bool:
    value = setting(value, name)
    return default if value is None else parse_bool(value, name)


def package_digest(value: Any) -> str | None:
    """``package_sha256``: 64 hex digits (any case), or unset/empty = not pinned."""
    value = setting(value, "package_sha256")
    if value is None:
        return None
    digest = str(value).strip().lower()
    if not _SHA256_HEX.fullmatch(digest):
        raise ConfigurationError("setting package_sha256 must be 64 hexadecimal digits", setting="package_sha256")
    return digest


def normalise_store_url(url: str) -> str:
    """Allow ``file:relative/dir`` in a local config by resolving it against the working directory."""
    if url.startswith("file:") and not url.startswith("file://"):
        return Path(url[len("file:") :]).resolve().as_uri()
    return url


def redact_url(url: str) -> str:
    """The store URL without any ``user:password@`` part, for log lines."""
    scheme, sep, rest = url.rpartition("://")
    host = rest.rsplit("@", 1)[-1]
    return f"{scheme}{sep}{host}"


def check_verification_keys(
    keyring_path: str | None, hmac_secret: str | None, trust_anchor_path: str | None, signer_identity: str | None
) -> None:
    """Refuse a configuration that names no way to verify, two ways, or gives the service an HMAC secret.

    Packages are verified either with a public keyring (``keyring_path``: the OMS ``key`` method) or with a
    trust anchor (``trust_anchor_path``: CA certificate(s) for the OMS ``certificate`` method, optionally
    constrained to ``signer_identity``). The HMAC secret ``parameters_signing_key`` (the original
    ``signed_model.pkl`` format) can sign by nature and is never accepted: ``python -m diabetes_risk_model
    migrate`` converts such a package. The files named are read by the loader
    (:func:`.loading.verification_keyring`), not here.
    """
    if hmac_secret is not None:
        raise ConfigurationError(
            "parameters_signing_key (an HMAC secret) is not accepted: the service verifies ECDSA-signed packages "
            "with a public keyring (keyring_path); convert original-format packages with "
            "`python -m diabetes_risk_model migrate`",
            setting="parameters_signing_key",
        )
    if signer_identity is not None and trust_anchor_path is None:
        raise ConfigurationError("signer_identity needs trust_anchor_path", setting="signer_identity")
    if trust_anchor_path is not None and keyring_path is not None:
        raise ConfigurationError(
            "set either trust_anchor_path (certificates) or keyring_path (keys)", setting="trust_anchor_path"
        )
    if keyring_path is None and trust_anchor_path is None:
        raise ConfigurationError(
            "no verification key configured: set keyring_path (MODEL_KEYRING) or trust_anchor_path",
            setting="keyring_path",
        )


@dataclass(frozen=True)
class ModelSettings:
    """Everything the loader needs, validated. Credentials are kept out of ``repr``."""

    model_parameters_version: str
    model_files_bucket: str
    store_url: str
    minio_secure: bool
    min_sequence: int
    retry_policy: RetryPolicy
    precompute: bool
    allow_private_keys: bool
    package_sha256: str | None
    feature_check: str
    keyring_path: str | None  # the OMS key method: a public keyring file
    trust_anchor_path: str | None  # the OMS certificate method: CA certificate(s), PEM
    signer_identity: str | None  # with trust_anchor_path: the subject or SAN the signing certificate must carry
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def parse(
        cls,
        *,
        model_parameters_version: Any,
        model_files_bucket: Any = "model-files",
        minio_url: Any = None,
        minio_access_key: Any = None,
        minio_secret_key: Any = None,
        parameters_signing_key: Any = None,
        parameters_signing_key_id: Any = None,
        keyring_path: Any = None,
        minio_secure: Any = False,
        store_url: Any = None,
        min_sequence: Any = 0,
        package_sha256: Any = None,
        storage_timeout: Any = 5.0,
        storage_attempts: Any = 10,
        storage_backoff: Any = 0.5,
        storage_backoff_max: Any = 10.0,
        precompute: Any = True,
        allow_private_keys: Any = False,
        feature_check: Any = "refuse",
        trust_anchor_path: Any = None,
        signer_identity: Any = None,
    ) -> ModelSettings:
        """Validate the configuration's values (see :class:`~.model.DiabetesRiskModel` for their meaning)."""
        url = setting(store_url, "store_url") or setting(minio_url, "minio_url")
        if url is None:
            raise ConfigurationError("one of store_url or minio_url is required", setting="minio_url")
        minimum = number(min_sequence, "min_sequence", int)
        if minimum < 0:
            raise ConfigurationError("setting min_sequence must not be negative", setting="min_sequence")
        check = str(setting(feature_check, "feature_check") or "refuse").strip().lower()
        if check not in FEATURE_CHECK_MODES:
            raise ConfigurationError("setting feature_check must be refuse or warn", setting="feature_check")
        allow_private = flag(allow_private_keys, "allow_private_keys", False)
        keyring_file = setting(keyring_path, "keyring_path")
        hmac_secret = setting(parameters_signing_key, "parameters_signing_key")
        anchors, identity = setting(trust_anchor_path, "trust_anchor_path"), setting(signer_identity, "signer_identity")
        check_verification_keys(keyring_file, hmac_secret, anchors, identity)
        return cls(
            model_parameters_version=str(setting(model_parameters_version, "model_parameters_version", True)),
            model_files_bucket=str(setting(model_files_bucket, "model_files_bucket", True)),
            store_url=normalise_store_url(str(url)),
            minio_secure=flag(minio_secure, "minio_secure", False),
            min_sequence=minimum,
            retry_policy=RetryPolicy(
                attempts=number(storage_attempts, "storage_attempts", int),
                timeout=number(storage_timeout, "storage_timeout", float),
                backoff=number(storage_backoff, "storage_backoff", float),
                backoff_max=number(storage_backoff_max, "storage_backoff_max", float),
            ),
            precompute=flag(precompute, "precompute", True),
            allow_private_keys=allow_private,
            package_sha256=package_digest(package_sha256),
            feature_check=check,
            keyring_path=None if keyring_file is None else str(keyring_file),
            trust_anchor_path=None if anchors is None else str(anchors),
            signer_identity=None if identity is None else str(identity),
            access_key=setting(minio_access_key, "minio_access_key"),
            secret_key=setting(minio_secret_key, "minio_secret_key"),
        )


__all__ = ["FEATURE_CHECK_MODES", "ModelSettings", "check_verification_keys", "normalise_store_url", "redact_url"]
