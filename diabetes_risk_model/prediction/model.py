"""The model rest_model_service hosts: the :class:`ml_base.MLModel` facade over settings, loading and answers.

- :mod:`.settings` reads and validates the configuration (``${NAME}`` = environment variable), opening no file;
- :mod:`.loading` loads the public verification keyring, fetches (bounded retries), checks the pin, verifies,
  unpickles and checks the features, as a numbered checklist; a refused package raises, and
  rest_model_service then marks the service not ready and not healthy (see ``diabetes_risk_model.service.app``):
  restarting will not fix a tampered package;
- :mod:`.table` answers: by default the whole input space is answered once, so ``predict()`` is a lookup.

rest_model_service builds models in a background thread (``create_app(wait_for_model_creation=False)``),
so the HTTP server answers health probes while we load.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ml_base import MLModel
from ml_base.ml_model import MLModelSchemaValidationException
from pydantic import BaseModel

import diabetes_risk_model
from diabetes_risk_model.errors import ConfigurationError
from diabetes_risk_model.prediction.loading import LoadedPackage, PackageLoader
from diabetes_risk_model.prediction.metrics import LoadMetrics
from diabetes_risk_model.prediction.schemas import DiabetesRiskModelInput, DiabetesRiskModelOutput
from diabetes_risk_model.prediction.settings import ModelSettings, redact_url
from diabetes_risk_model.prediction.table import AnswerTable, key_for
from diabetes_risk_model.signing import Expectation, package_file_name

logger = logging.getLogger(__name__)


class DiabetesRiskModel(MLModel):
    """Predicts a patient's diabetes risk with a signed, verified pycaret pipeline.

    Configuration keys (all may be ``${ENV_VAR}``; an empty value counts as unset):

    - original design: ``model_parameters_version``, ``model_files_bucket``, ``minio_url``,
      ``minio_access_key``, ``minio_secret_key`` (``parameters_signing_key``, an HMAC secret, is refused: the
      service verifies ECDSA packages only);
    - added: ``keyring_path`` (a public keyring file), ``minio_secure`` (TLS),
      ``store_url`` (overrides ``minio_url``; ``file:///abs/dir`` or ``file:relative/dir``),
      ``package_sha256`` (the package file's SHA-256; unset or empty = not pinned), ``min_sequence`` (refuse
      older packages), ``storage_timeout``, ``storage_attempts``, ``storage_backoff``,
      ``storage_backoff_max``, ``precompute``, ``allow_private_keys`` (accept a keyring holding signing
      material; off by default), ``feature_check`` (``refuse``, the default, or ``warn``).

    ``metrics`` is not a setting: the app passes its :class:`LoadMetrics`; a model built on its own keeps a
    private registry.
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

    def __init__(self, metrics: LoadMetrics | None = None, **configuration: Any) -> None:
        try:
            self.settings = ModelSettings.parse(**configuration)
        except TypeError as exc:  # an unknown or missing setting name
            raise ConfigurationError(f"model configuration: {exc}") from None
        self.metrics = LoadMetrics() if metrics is None else metrics
        self.object_name = package_file_name(self.qualified_name, self.version, self.model_parameters_version)
        expect = Expectation(
            name=self.qualified_name,
            version=self.version,
            parameters_version=self.model_parameters_version,
            min_sequence=self.settings.min_sequence,
        )
        started = time.monotonic()
        loaded = PackageLoader(self.settings, self.object_name, expect, self.metrics).load()
        self._answers = AnswerTable(loaded.pipeline, precompute=self.settings.precompute, codes=loaded.codes)
        elapsed = time.monotonic() - started
        self.package = loaded
        self._report(loaded, elapsed)

    def _report(self, loaded: LoadedPackage, elapsed: float) -> None:
        manifest = loaded.manifest
        self.metrics.load_duration.set(elapsed)
        self.metrics.package_info.labels(
            name=str(getattr(manifest, "name", self.qualified_name)),
            version=str(getattr(manifest, "version", self.version)),
            parameters_version=str(getattr(manifest, "parameters_version", self.model_parameters_version)),
            sequence=str(getattr(manifest, "sequence", "")),
            key_id=str(getattr(manifest, "key_id", "")),
            algorithm=str(getattr(manifest, "alg", "")),
            sha256=loaded.sha256,
        ).set(1)
        logger.info(
            "model %s ready from %s/%s/%s in %.2fs%s",
            self.qualified_name,
            redact_url(self.settings.store_url),
            self.settings.model_files_bucket,
            self.object_name,
            elapsed,
            " (prediction table precomputed)" if self._answers.precomputed else "",
        )

    @property
    def model_parameters_version(self) -> str:
        return self.settings.model_parameters_version

    @property
    def store_url(self) -> str:
        return self.settings.store_url

    def predict(self, data: BaseModel) -> DiabetesRiskModelOutput:
        """Predict the diabetes risk for one input; anything but :class:`DiabetesRiskModelInput` is refused."""
        if not isinstance(data, DiabetesRiskModelInput):
            raise MLModelSchemaValidationException(
                f"predict() takes a DiabetesRiskModelInput, got {type(data).__name__}"
            )
        return self._answers.answer(key_for(data))

    def predict_batch(self, keys: Any) -> list[str]:
        """The :class:`DiabetesRisk` values for an ``(n, 4)`` array of table keys (NaN = missing), row for row."""
        return self._answers.answer_batch(keys)

    @property
    def pipeline(self) -> Any:
        """The unpickled pipeline with ``precompute: false``; ``None`` when it was loaded in the sandbox."""
        return self.package.pipeline


__all__ = ["DiabetesRiskModel"]
