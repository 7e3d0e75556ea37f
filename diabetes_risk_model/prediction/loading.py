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
   :func:`unpickling.restricted_loads`: with ``precompute: true`` (the default) in the sandbox
   (:mod:`.sandbox`), a confined child that also answers every input and returns only the answers; with
   ``precompute: false`` in this process, outside the sandbox's protection.
5. **Feature check.** The pipeline's selected features must be exactly the API's inputs
   (:mod:`.features`); ``feature_check: warn`` logs instead of refusing.

Each refusal is logged as one line naming the package and the refusal's class, and counted in
``model_package_verifications_total{outcome=<class>}`` (``ok`` for success). The temporary directory is
removed either way.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diabetes_risk_model.errors import (
    BindingMismatch,
    ConfigurationError,
    StorageError,
    StorageUnavailable,
    VerificationError,
)
from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.prediction.features import feature_mismatch, selected_features
from diabetes_risk_model.prediction.metrics import LoadMetrics
from diabetes_risk_model.prediction.retry import download_with_retries
from diabetes_risk_model.prediction.sandbox import Sandbox
from diabetes_risk_model.prediction.settings import ModelSettings, redact_url
from diabetes_risk_model.signing import CertificateTrust, Expectation, Keyring, VerifiedPackage, verify_package
from diabetes_risk_model.storage import open_store
from diabetes_risk_model.unpickling import restricted_loads

logger = logging.getLogger(__name__)


def verification_keyring(settings: ModelSettings) -> Keyring | CertificateTrust:
    """What the service verifies with, read once: the public keyring, or the certificate trust anchor.

    A keyring file that holds private keys is refused unless ``allow_private_keys``, so that a misconfigured
    pod never holds anything that can sign without someone having said so; private keys are then dropped
    (:meth:`Keyring.public`). With ``trust_anchor_path`` the CA certificate(s) and the optional
    ``signer_identity`` verify certificate-signed packages: rotating the signing key is then issuing a new
    certificate, not republishing a keyring.
    """
    if settings.trust_anchor_path is not None:
        try:
            pem = Path(settings.trust_anchor_path).read_bytes()
        except OSError:
            raise ConfigurationError("trust_anchor_path cannot be read", setting="trust_anchor_path") from None
        return CertificateTrust.from_pem(pem, settings.signer_identity)
    keyring = Keyring.load(Path(str(settings.keyring_path)))
    if keyring.has_secrets and not settings.allow_private_keys:
        raise ConfigurationError(
            "the keyring file holds private keys, which can sign; give the service a public "
            "keyring (Keyring.public()), or set allow_private_keys: true",
            setting="allow_private_keys",
        )
    return keyring.public()


@dataclass(frozen=True)
class LoadedPackage:
    """What a successful load yields: the answers (``codes``, from the sandbox) or, with ``precompute: false``,
    the unpickled pipeline; the verified manifest; and the package file's digest."""

    pipeline: Any
    codes: np.ndarray | None
    manifest: Any
    sha256: str


class PackageLoader:
    """Fetch → pin check → verify → unpickle and answer (in the sandbox) → feature check, for one object."""

    def __init__(self, settings: ModelSettings, object_name: str, expect: Expectation, metrics: LoadMetrics) -> None:
        self.settings = settings
        self.object_name = object_name
        self.expect = expect
        self.metrics = metrics
        self.where = f"{redact_url(settings.store_url)}/{settings.model_files_bucket}/{object_name}"

    def load(self) -> LoadedPackage:
        # with precompute, the sandbox starts now: its imports overlap steps 0-3, and it is killed on a refusal
        with Sandbox() if self.settings.precompute else contextlib.nullcontext() as sandbox:
            return self._load(sandbox)

    def _load(self, sandbox: Sandbox | None) -> LoadedPackage:
        keyring = verification_keyring(self.settings)  # 0
        with tempfile.TemporaryDirectory(prefix="drm-package-") as tmp:
            package = self.fetch(Path(tmp) / self.object_name)  # 1
            try:
                digest = self.check_pin(package)  # 2
                verified = self.verify(package, keyring, digest)  # 3
            except VerificationError as exc:
                self.refused(exc, "nothing was unpickled")
                raise
        assert verified.model_bytes is not None  # verify_package captures it by default
        pipeline, codes = None, None
        try:
            if sandbox is not None:  # 4. unpickle and answer every input in the sandbox
                answer = sandbox.answer(verified.model_bytes)
                codes = answer.codes
                self.check_features(answer.features)  # 5
            else:  # 4. unpickle in this process, for per-call predictions
                pipeline = restricted_loads(verified.model_bytes)
                self.check_features(selected_features(pipeline))  # 5
        except VerificationError as exc:
            self.refused(exc, "after verification")
            raise
        self.metrics.outcome("ok")
        return LoadedPackage(pipeline, codes, verified.manifest, digest)

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

    def verify(self, package: Path, keyring: Keyring | CertificateTrust, digest: str) -> VerifiedPackage:
        """3. Signature, members, binding to this model and ``min_sequence``; logged with the file's *digest*."""
        verified = verify_package(package, keyring, self.expect)
        manifest = verified.manifest
        logger.info(
            "model package %s verified (key id %s, sequence %s, sha256 %s)",
            self.object_name,
            getattr(manifest, "key_id", "?"),
            getattr(manifest, "sequence", "?"),
            digest,
        )
        return verified

    def check_features(self, selected: list[str]) -> None:
        """5. The selected features are the API's inputs (or only a warning, with ``feature_check: warn``)."""
        mismatch = feature_mismatch(selected)
        if mismatch is None:
            return
        if self.settings.feature_check == "warn":
            logger.warning("model package %s: %s (feature_check: warn, serving anyway)", self.object_name, mismatch)
            return
        raise mismatch


__all__ = ["LoadedPackage", "PackageLoader", "verification_keyring"]
