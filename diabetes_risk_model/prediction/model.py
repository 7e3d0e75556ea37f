"""The model rest_model_service hosts: download, verify, unpickle, then predict from memory.

Loading (``__init__``), in order, and why:

1. **Settings.** Every setting may be written ``${NAME}`` in the YAML and is
   read from the environment here (:func:`diabetes_risk_model.config.expand_env`);
   a missing variable raises :class:`MissingEnvironmentVariable` naming it.
   Nothing secret is ever put in a log line or an exception message.
2. **Download with bounded retries.** rest_model_service builds models in a
   background thread (``create_app(wait_for_model_creation=False)``), so the
   HTTP server is already answering health probes while we load. That is where
   waiting belongs: while the store is unreachable (:class:`StorageUnavailable`)
   we retry with capped exponential backoff and jitter, logging *waiting for
   storage* each time, for at most ``storage_attempts`` attempts. Each attempt is
   bounded by ``storage_timeout`` (connect and read). Anything else the store
   says (access denied, missing bucket, missing object) will not change by
   waiting and is raised at once.
3. **Verify before unpickling.** The package is verified with
   :func:`diabetes_risk_model.signing.verify_package` against the configured
   keyring (its public view) and an :class:`Expectation` binding it to this
   model's name, version, parameters version and minimum sequence (rollback
   protection). Only :meth:`VerifiedPackage.load_model` unpickles, and only the
   bytes that were verified. A refused package raises; rest_model_service then
   marks the service not ready and not healthy (see
   ``diabetes_risk_model.service.app``), which is what an orchestrator should
   see: restarting will not fix a tampered package.
4. **Everything once.** The column order, dtypes and a NaN row template are
   built once. The input space is small (BMI 15-60 or missing x 6 x 14 x 9
   = 35,532 combinations), so by default the pipeline is run once over all of
   them in a single batch and ``predict()`` becomes a dictionary lookup.
   Batch and single-row predictions are the same function of the row, which
   the tests check against the pipeline itself. ``precompute: false`` keeps
   the per-call path (a prebuilt float64 row, no per-call column building).

A package that fails verification is never unpickled: verification happens on
the downloaded file, and the temporary directory is removed afterwards either
way.
"""

from __future__ import annotations

import itertools
import logging
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ml_base import MLModel
from ml_base.ml_model import MLModelSchemaValidationException
from pydantic import BaseModel

import diabetes_risk_model
from diabetes_risk_model.config import expand_env, parse_bool
from diabetes_risk_model.errors import (
    ConfigurationError,
    PredictionError,
    StorageError,
    StorageUnavailable,
    VerificationError,
)
from diabetes_risk_model.prediction.schemas import (
    BMI_MAX,
    BMI_MIN,
    Age,
    DiabetesRisk,
    DiabetesRiskModelInput,
    DiabetesRiskModelOutput,
    GeneralHealth,
    Income,
)
from diabetes_risk_model.signing import Expectation, Keyring, verify_package
from diabetes_risk_model.storage import open_store

logger = logging.getLogger(__name__)

#: The 21 features, in the order the pipeline was trained on (the original design's order).
FEATURE_COLUMNS: tuple[str, ...] = (
    "HighBloodPressure",
    "HighCholesterol",
    "CholesterolChecked",
    "BMI",
    "Smoker",
    "Stroke",
    "HeartDiseaseOrHeartAttack",
    "PhysicalActivity",
    "Fruits",
    "Veggies",
    "HeavyAlchoholConsumption",
    "AnyHealthcare",
    "NoDoctorsVisitBecauseOfCost",
    "GeneralHealth",
    "MentalHealth",
    "PhysicalHealth",
    "DifficultyWalking",
    "Sex",
    "Age",
    "Education",
    "Income",
)

#: Columns the API fills; every other feature is missing and imputed by the pipeline.
_BMI, _GENERAL_HEALTH, _AGE, _INCOME = (FEATURE_COLUMNS.index(c) for c in ("BMI", "GeneralHealth", "Age", "Income"))

#: A key into the prediction table: (BMI, GeneralHealth code, Age code, Income code), None = missing.
Key = tuple[int | None, int | None, int | None, int | None]

_GENERAL_HEALTH_CODES: dict[GeneralHealth, int] = {member: member.map() for member in GeneralHealth}
_AGE_CODES: dict[Age, int] = {member: member.map() for member in Age}
_INCOME_CODES: dict[Income, int] = {member: member.map() for member in Income}


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for the store: ``attempts`` tries, each bounded by ``timeout`` seconds.

    Delays grow as ``backoff * 2**n`` up to ``backoff_max``, with +-25 % jitter so that
    replicas restarted together do not hammer MinIO in step.
    """

    attempts: int = 10
    timeout: float = 5.0
    backoff: float = 0.5
    backoff_max: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError("storage_attempts must be at least 1", setting="storage_attempts")
        if self.timeout <= 0 or self.backoff < 0 or self.backoff_max < 0:
            raise ConfigurationError("storage timeouts and backoff must be positive", setting="storage_timeout")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number *attempt* (1-based)."""
        base = min(self.backoff_max, self.backoff * (2 ** (attempt - 1)))
        return base * random.uniform(0.75, 1.25)  # jitter, not cryptography


def download_with_retries(
    fetch: Callable[[], Path],
    policy: RetryPolicy,
    where: str,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Call *fetch* until it succeeds, retrying only :class:`StorageUnavailable`, at most ``policy.attempts`` times.

    *where* names the store for log lines (never a credential).
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return fetch()
        except StorageUnavailable as exc:
            if attempt == policy.attempts:
                logger.error(
                    "storage at %s still unavailable after %d attempts, giving up: %s", where, attempt, exc
                )
                raise
            delay = policy.delay(attempt)
            logger.warning(
                "waiting for storage at %s (attempt %d/%d failed: %s); retrying in %.1fs",
                where,
                attempt,
                policy.attempts,
                exc,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _setting(value: Any, name: str, required: bool = False) -> Any:
    """Expand ``${NAME}``; treat an empty value as unset; complain (naming the setting) when required."""
    value = expand_env(value)
    if isinstance(value, str) and value.strip() == "":
        value = None
    if required and value is None:
        raise ConfigurationError(f"setting {name} is required", setting=name)
    return value


def _normalise_store_url(url: str) -> str:
    """Allow ``file:relative/dir`` in a local config by resolving it against the working directory."""
    if url.startswith("file:") and not url.startswith("file://"):
        return Path(url[len("file:") :]).resolve().as_uri()
    return url


def _redact_url(url: str) -> str:
    """The store URL without any ``user:password@`` part, for log lines."""
    scheme, sep, rest = url.rpartition("://")
    host = rest.rsplit("@", 1)[-1]
    return f"{scheme}{sep}{host}"


class DiabetesRiskModel(MLModel):
    """Predicts a patient's diabetes risk with a signed, verified pycaret pipeline.

    Configuration keys (all may be ``${ENV_VAR}``):

    - original design: ``model_parameters_version``, ``model_files_bucket``,
      ``minio_url``, ``minio_access_key``, ``minio_secret_key``,
      ``parameters_signing_key`` (an HMAC secret; verifies our packages and the
      original itsdangerous format);
    - added: ``parameters_signing_key_id``, ``keyring_path`` (a keyring file,
      e.g. Ed25519 public keys; only its public view is kept), ``minio_secure``
      (TLS), ``store_url`` (overrides ``minio_url``; ``file:///abs/dir`` or
      ``file:relative/dir`` for the embedded directory store), ``min_sequence``
      (refuse older packages), ``storage_timeout``, ``storage_attempts``,
      ``storage_backoff``, ``storage_backoff_max``, ``precompute``, ``allow_legacy``
      (serve an original-format ``signed_model.pkl`` package, whose signature
      binds no name, version or sequence; off by default).
    """

    @property
    def display_name(self) -> str:
        return "Diabetes Risk Model"

    @property
    def qualified_name(self) -> str:
        return "diabetes_risk_model"

    @property
    def description(self) -> str:
        return "Model to predict the diabetes risk of a patient."

    @property
    def version(self) -> str:
        return diabetes_risk_model.__version__

    @property
    def input_schema(self) -> type[DiabetesRiskModelInput]:
        return DiabetesRiskModelInput

    @property
    def output_schema(self) -> type[DiabetesRiskModelOutput]:
        return DiabetesRiskModelOutput

    def __init__(
        self,
        model_parameters_version: str,
        model_files_bucket: str = "model-files",
        minio_url: str | None = None,
        minio_access_key: str | None = None,
        minio_secret_key: str | None = None,
        parameters_signing_key: str | None = None,
        parameters_signing_key_id: str | None = None,
        keyring_path: str | None = None,
        minio_secure: bool | str = False,
        store_url: str | None = None,
        min_sequence: int | str = 0,
        storage_timeout: float | str = 5.0,
        storage_attempts: int | str = 10,
        storage_backoff: float | str = 0.5,
        storage_backoff_max: float | str = 10.0,
        precompute: bool | str = True,
        allow_legacy: bool | str = False,
    ) -> None:
        self.model_parameters_version = str(_setting(model_parameters_version, "model_parameters_version", True))
        self.model_files_bucket = str(_setting(model_files_bucket, "model_files_bucket", True))
        url = _setting(store_url, "store_url") or _setting(minio_url, "minio_url")
        if url is None:
            raise ConfigurationError("one of store_url or minio_url is required", setting="minio_url")
        self.store_url = _normalise_store_url(str(url))
        self.minio_secure = parse_bool(_setting(minio_secure, "minio_secure") or False, "minio_secure")
        self.min_sequence = self._number(min_sequence, "min_sequence", int)
        self.retry_policy = RetryPolicy(
            attempts=self._number(storage_attempts, "storage_attempts", int),
            timeout=self._number(storage_timeout, "storage_timeout", float),
            backoff=self._number(storage_backoff, "storage_backoff", float),
            backoff_max=self._number(storage_backoff_max, "storage_backoff_max", float),
        )
        self.precompute = parse_bool(_setting(precompute, "precompute"), "precompute")
        self.allow_legacy = parse_bool(_setting(allow_legacy, "allow_legacy") or False, "allow_legacy")
        self.object_name = f"{self.qualified_name}-{self.version}-{self.model_parameters_version}.zip"
        # Secrets stay in locals and are handed straight to the objects that need them.
        access_key = _setting(minio_access_key, "minio_access_key")
        secret_key = _setting(minio_secret_key, "minio_secret_key")
        keyring = self._keyring(
            _setting(parameters_signing_key, "parameters_signing_key"),
            _setting(parameters_signing_key_id, "parameters_signing_key_id"),
            _setting(keyring_path, "keyring_path"),
        )

        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="drm-package-") as tmp:
            package = self._fetch(access_key, secret_key, Path(tmp) / self.object_name)
            pipeline = self._load_pipeline(package, keyring)
        self._pipeline = pipeline
        self._prepare()
        logger.info(
            "model %s ready from %s/%s/%s in %.2fs%s",
            self.qualified_name,
            _redact_url(self.store_url),
            self.model_files_bucket,
            self.object_name,
            time.monotonic() - started,
            " (prediction table precomputed)" if self._table else "",
        )

    # -- loading ---------------------------------------------------------------

    @staticmethod
    def _number(value: Any, name: str, kind: Callable[[Any], Any]) -> Any:
        value = _setting(value, name, True)
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ConfigurationError(f"setting {name} must be a number", setting=name) from None

    @staticmethod
    def _keyring(signing_key: str | None, signing_key_id: str | None, keyring_path: str | None) -> Keyring:
        """The verification keyring, built through the signing area's own environment reader.

        ``Keyring.from_env`` already knows how ``PARAMETERS_SIGNING_KEY`` and
        ``MODEL_KEYRING`` combine, so the expanded settings are handed to it as a
        private environment rather than re-implementing that logic here.
        """
        environ: dict[str, str] = {}
        if signing_key is not None:
            environ["PARAMETERS_SIGNING_KEY"] = str(signing_key)
            if signing_key_id is not None:
                environ["PARAMETERS_SIGNING_KEY_ID"] = str(signing_key_id)
        if keyring_path is not None:
            environ["MODEL_KEYRING"] = str(keyring_path)
        if not environ:
            raise ConfigurationError(
                "no verification key configured: set keyring_path (MODEL_KEYRING) or parameters_signing_key "
                "(PARAMETERS_SIGNING_KEY)",
                setting="keyring_path",
            )
        return Keyring.from_env(environ).public()

    def _fetch(self, access_key: str | None, secret_key: str | None, destination: Path) -> Path:
        """Download the package, waiting (bounded) while the store is unavailable."""
        store = open_store(
            self.store_url,
            self.model_files_bucket,
            access_key=access_key,
            secret_key=secret_key,
            secure=self.minio_secure,
            timeout=self.retry_policy.timeout,
        )
        where = f"{_redact_url(self.store_url)}/{self.model_files_bucket}/{self.object_name}"
        logger.info("downloading model package from %s", where)
        try:
            return download_with_retries(
                lambda: store.download(self.object_name, destination), self.retry_policy, where
            )
        except StorageUnavailable:
            raise
        except StorageError as exc:
            logger.error("cannot load model package from %s, not retrying: %s: %s", where, type(exc).__name__, exc)
            raise

    def _load_pipeline(self, package: Path, keyring: Keyring) -> Any:
        """Verify *package*, then unpickle exactly the verified bytes. Raises before unpickling on any doubt."""
        expect = Expectation(
            name=self.qualified_name,
            version=self.version,
            parameters_version=self.model_parameters_version,
            min_sequence=self.min_sequence,
        )
        try:
            verified = verify_package(package, keyring, expect, allow_legacy=self.allow_legacy)
        except VerificationError as exc:
            logger.error(
                "model package %s refused, nothing was unpickled: %s: %s", self.object_name, type(exc).__name__, exc
            )
            raise
        manifest = verified.manifest
        logger.info(
            "model package %s verified (key id %s, sequence %s)",
            self.object_name,
            getattr(manifest, "key_id", "?"),
            getattr(manifest, "sequence", "?"),
        )
        return verified.load_model(allow_legacy=self.allow_legacy)

    def _prepare(self) -> None:
        """Build, once, everything ``predict`` needs: the row template and (optionally) the whole answer table."""
        self._columns = pd.Index(FEATURE_COLUMNS)
        self._template = np.full((1, len(FEATURE_COLUMNS)), np.nan, dtype=np.float64)
        self._table: dict[Key, DiabetesRiskModelOutput] = {}
        self._outputs = {risk: DiabetesRiskModelOutput(diabetes_risk=risk) for risk in DiabetesRisk}
        if self.precompute:
            keys = list(all_keys())
            labels = self._pipeline.predict(frame_for(keys, self._columns))
            outputs = self._outputs
            pairs = zip(keys, labels, strict=True)
            self._table = {key: outputs[DiabetesRisk.map(float(label))] for key, label in pairs}

    # -- prediction --------------------------------------------------------------

    @staticmethod
    def key_for(data: DiabetesRiskModelInput) -> Key:
        """The table key for one input."""
        return (
            data.body_mass_index,
            None if data.general_health is None else _GENERAL_HEALTH_CODES[data.general_health],
            None if data.age is None else _AGE_CODES[data.age],
            None if data.income is None else _INCOME_CODES[data.income],
        )

    def predict(self, data: BaseModel) -> DiabetesRiskModelOutput:
        """Predict the diabetes risk for one input; anything but :class:`DiabetesRiskModelInput` is refused."""
        if not isinstance(data, DiabetesRiskModelInput):
            raise MLModelSchemaValidationException(
                f"predict() takes a DiabetesRiskModelInput, got {type(data).__name__}"
            )
        key = self.key_for(data)
        answer = self._table.get(key)
        if answer is not None:
            return answer
        row = self._template.copy()
        for index, value in zip((_BMI, _GENERAL_HEALTH, _AGE, _INCOME), key, strict=True):
            if value is not None:
                row[0, index] = value
        labels = self._pipeline.predict(pd.DataFrame(row, columns=self._columns, copy=False))
        try:
            return self._outputs[DiabetesRisk.map(float(labels[0]))]
        except ValueError as exc:
            raise PredictionError(str(exc)) from None

    @property
    def pipeline(self) -> Any:
        """The verified, unpickled pipeline (for tests and benchmarks that compare against it)."""
        return self._pipeline


def all_keys() -> itertools.product[Key]:
    """Every input the API accepts, as table keys (35,532 of them)."""
    return itertools.product(
        [None, *range(BMI_MIN, BMI_MAX + 1)],
        [None, *sorted(_GENERAL_HEALTH_CODES.values())],
        [None, *sorted(_AGE_CODES.values())],
        [None, *sorted(_INCOME_CODES.values())],
    )


def frame_for(keys: list[Key], columns: pd.Index | None = None) -> pd.DataFrame:
    """A float64 feature frame (NaN = missing) with one row per key, in training column order."""
    columns = pd.Index(FEATURE_COLUMNS) if columns is None else columns
    values = np.full((len(keys), len(columns)), np.nan, dtype=np.float64)
    if keys:
        filled = np.array([[np.nan if v is None else v for v in key] for key in keys], dtype=np.float64)
        values[:, [_BMI, _GENERAL_HEALTH, _AGE, _INCOME]] = filled
    return pd.DataFrame(values, columns=columns, copy=False)


def inputs_to_frame(inputs: list[DiabetesRiskModelInput]) -> pd.DataFrame:
    """The frame the pipeline sees for these inputs (used by tests to compare with the pipeline itself)."""
    return frame_for([DiabetesRiskModel.key_for(item) for item in inputs])


__all__ = [
    "FEATURE_COLUMNS",
    "DiabetesRiskModel",
    "RetryPolicy",
    "all_keys",
    "download_with_retries",
    "frame_for",
    "inputs_to_frame",
]
