"""Loading a model package, as a numbered checklist; any refusal raises and nothing after it runs.

0. **Keys.** Load the verification keyring named by the settings, once (:func:`verification_keyring`);
   a keyring file holding signing material is refused unless ``allow_private_keys``.
1. **Fetch** the package from the store into a private temporary directory, waiting (bounded) while the
   store is unavailable (:mod:`.retry`).
2. **Pin check.** Hash the downloaded file (:func:`files.sha256_file`); with ``package_sha256``
   set, a different digest is refused (:class:`BindingMismatch` on ``package_sha256``) before anything
   else reads the file.
3. **Verify** with :func:`signing.verify_package` against the public keyring and an :class:`Expectation`
   binding the package to this model's name, version, parameters version and ``min_sequence``
   (:class:`Rollback` below it).
4. **Unpickle** exactly the verified bytes (:attr:`VerifiedPackage.model_bytes`) through
   :func:`unpickling.restricted_loads`.
5. **Feature check.** The pipeline's selected features must be exactly the API's inputs
   (:mod:`.features`); ``feature_check: warn`` logs instead of refusing.

Each refusal is logged as one line naming the package and the refusal's class, and counted in
``model_package_verifications_total{outcome=<class>}`` (``ok`` for success). The temporary directory is
removed either way.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diabetes_risk_model.errors import (
    BindingMismatch,
    ConfigurationError,
    StorageError,
    StorageUnavailable,
    VerificationError,
)
from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.prediction.features import feature_mismatch
from diabetes_risk_model.prediction.metrics import LoadMetrics
from diabetes_risk_model.prediction.retry import download_with_retries
from diabetes_risk_model.prediction.settings import ModelSettings, redact_url
from diabetes_risk_model.signing import Expectation, Keyring, VerifiedPackage, verify_package
from diabetes_risk_model.storage import open_store
from diabetes_risk_model.unpickling import restricted_loads

logger = logging.getLogger(__name__)


def verification_keyring(settings: ModelSettings) -> Keyring:
    """The public keyring the service verifies with, from the keyring file (read once) and/or the HMAC secret.

    A keyring file that holds signing material (private keys, HMAC secrets) is refused unless
    ``allow_private_keys``, so that a misconfigured pod never holds anything that can sign without someone
    having said so. Private asymmetric keys are then dropped (:meth:`Keyring.public`); HMAC secrets stay, as
    verification needs them.
    """
    from_file = Keyring.from_settings(keyring_path=settings.keyring_path) if settings.keyring_path else Keyring()
    if from_file.has_secrets and not settings.allow_private_keys:
        raise ConfigurationError(
            "the keyring file holds private keys or HMAC secrets, which can sign; give the service a public "
            "keyring (Keyring.public()), or set allow_private_keys: true",
            setting="allow_private_keys",
        )
    if settings.hmac_secret is None:
        return from_file.public()
    secret = Keyring.from_settings(hmac_secret=settings.hmac_secret, hmac_key_id=settings.hmac_key_id)
    return Keyring([*from_file.keys, *secret.keys], secret.legacy_key_id).public()


@dataclass(frozen=True)
class LoadedPackage:
    """What a successful load yields: the pipeline, the verified manifest, and the package file's digest."""

    pipeline: Any
    manifest: Any
    sha256: str


class PackageLoader:
    """Fetch → pin check → verify → unpickle → feature check, for one object in one store."""

    def __init__(self, settings: ModelSettings, object_name: str, expect: Expectation, metrics: LoadMetrics) -> None:
        self.settings = settings
        self.object_name = object_name
        self.expect = expect
        self.metrics = metrics
        self.where = f"{redact_url(settings.store_url)}/{settings.model_files_bucket}/{object_name}"

    def load(self) -> LoadedPackage:
        keyring = verification_keyring(self.settings)  # 0
        with tempfile.TemporaryDirectory(prefix="drm-package-") as tmp:
            package = self.fetch(Path(tmp) / self.object_name)  # 1
            try:
                digest = self.check_pin(package)  # 2
                verified = self.verify(package, keyring)  # 3
            except VerificationError as exc:
                self.refused(exc, "nothing was unpickled")
                raise
        try:
            pipeline = self.unpickle(verified)  # 4
            self.check_features(pipeline)  # 5
        except VerificationError as exc:
            self.refused(exc, "after verification")
            raise
        self.metrics.outcome("ok")
        return LoadedPackage(pipeline, verified.manifest, digest)

    def refused(self, exc: VerificationError, stage: str) -> None:
        self.metrics.outcome(type(exc).__name__)
        logger.error("model package %s refused, %s: %s: %s", self.object_name, stage, type(exc).__name__, exc)

    def fetch(self, destination: Path) -> Path:
        """1. Download, waiting (bounded) while the store is unavailable; other store errors are raised at once."""
        settings = self.settings
        store = open_store(
            settings.store_url,
            settings.model_files_bucket,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            secure=settings.minio_secure,
            timeout=settings.retry_policy.timeout,
        )
        logger.info("downloading model package from %s", self.where)
        try:
            return download_with_retries(
                lambda: store.download(self.object_name, destination),
                settings.retry_policy,
                self.where,
                on_retry=self.metrics.storage_retries.inc,
            )
        except StorageUnavailable:
            raise
        except StorageError as exc:
            logger.error("cannot load model package from %s, not retrying: %s: %s", self.where, type(exc).__name__, exc)
            raise

    def check_pin(self, package: Path) -> str:
        """2. The file's SHA-256; refused if ``package_sha256`` is set and differs."""
        digest = sha256_file(package)
        pinned = self.settings.package_sha256
        if pinned is not None and digest != pinned:
            raise BindingMismatch("package_sha256", pinned, digest)
        if pinned is None:
            logger.warning("model package %s is not pinned (package_sha256 unset); sha256=%s", self.object_name, digest)
        return digest

    def verify(self, package: Path, keyring: Keyring) -> VerifiedPackage:
        """3. Signature, members, binding to this model and ``min_sequence``."""
        verified = verify_package(package, keyring, self.expect, allow_legacy=self.settings.allow_legacy)
        manifest = verified.manifest
        logger.info(
            "model package %s verified (key id %s, sequence %s)",
            self.object_name,
            getattr(manifest, "key_id", "?"),
            getattr(manifest, "sequence", "?"),
        )
        return verified

    def unpickle(self, verified: VerifiedPackage) -> Any:
        """4. Exactly the verified bytes, through the restricted unpickler.

        Legacy packages are refused unless ``allow_legacy``: their signature (HMAC-SHA1 over the pickle
        only) binds no name, version, sequence or expiry, so any old validly signed pickle could be served.
        """
        if verified.is_legacy and not self.settings.allow_legacy:
            raise VerificationError(
                "legacy package (signed_model.pkl): its signature binds no name, version or sequence; "
                "loading it for serving is refused unless explicitly allowed"
            )
        assert verified.model_bytes is not None  # verify_package captures it by default
        return restricted_loads(verified.model_bytes)

    def check_features(self, pipeline: Any) -> None:
        """5. The selected features are the API's inputs (or only a warning, with ``feature_check: warn``)."""
        mismatch = feature_mismatch(pipeline)
        if mismatch is None:
            return
        if self.settings.feature_check == "warn":
            logger.warning("model package %s: %s (feature_check: warn, serving anyway)", self.object_name, mismatch)
            return
        raise mismatch


__all__ = ["LoadedPackage", "PackageLoader", "verification_keyring"]
