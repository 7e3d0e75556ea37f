"""The pipeline's selected features must be exactly the API's inputs: refused (or, if asked, only warned about)."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

from diabetes_risk_model.errors import ConfigurationError, FeatureMismatch
from diabetes_risk_model.prediction.model import DiabetesRiskModel
from diabetes_risk_model.prediction.schemas import Age, DiabetesRiskModelInput, GeneralHealth, Income
from tests.support.packages import Artifacts, local_store
from tests.support.service import service_configuration


@pytest.fixture(scope="module")
def ignoring_package(artifacts: Artifacts, ignoring_pipeline: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ignoring")
    model_pickle = root / "model.pkl"
    model_pickle.write_bytes(pickle.dumps(ignoring_pipeline, protocol=pickle.HIGHEST_PROTOCOL))
    return artifacts.package_with(root / "package", sequence=1, model_pickle=model_pickle)


def test_a_pipeline_that_ignores_an_api_field_is_refused_naming_missing_and_extra(
    ignoring_package: Path, tmp_path: Path, artifacts: Artifacts, start_service: Any, caplog: pytest.LogCaptureFixture
) -> None:
    configuration = service_configuration(
        minio_url=local_store(tmp_path / "store", ignoring_package), keyring_path=str(artifacts.keyring_file)
    )
    with caplog.at_level(logging.INFO):
        client = start_service(configuration)
    assert client.get("/api/health/ready").status_code == 503
    assert client.post("/api/models/diabetes_risk_model/prediction", json={}).status_code == 503
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1
    assert "FeatureMismatch" in refused[0]
    assert "missing GeneralHealth" in refused[0] and "extra PhysicalHealth" in refused[0]


def test_feature_check_warn_serves_the_pipeline_and_logs_the_mismatch(
    ignoring_package: Path, model_settings: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = local_store(tmp_path / "ignoring-store", ignoring_package)
    with pytest.raises(FeatureMismatch) as info:
        DiabetesRiskModel(**dict(model_settings, minio_url=store))
    assert info.value.context == {"missing": ["GeneralHealth"], "extra": ["PhysicalHealth"]}
    with caplog.at_level(logging.WARNING):
        model = DiabetesRiskModel(**dict(model_settings, minio_url=store, feature_check="warn"))
    assert "missing GeneralHealth; extra PhysicalHealth" in caplog.text
    assert "feature_check: warn" in caplog.text
    assert model.predict(DiabetesRiskModelInput(body_mass_index=31)) is not None
    with pytest.raises(ConfigurationError, match="feature_check"):
        DiabetesRiskModel(**dict(model_settings, feature_check="ignore"))


def test_the_served_pipeline_uses_every_api_input(model_settings: dict[str, Any]) -> None:
    """With the API's own features selected, changing general_health alone changes at least one answer."""
    model = DiabetesRiskModel(**model_settings)

    changed = False
    for bmi in range(15, 61, 5):
        for age in (Age.THIRTY_TO_THIRTY_FOUR, Age.FIFTY_FIVE_TO_FIFTY_NINE, Age.SEVENTY_TO_SEVENTY_FOUR):
            answers = {
                model.predict(
                    DiabetesRiskModelInput(
                        body_mass_index=bmi, general_health=health, age=age, income=Income.BETWEEN_20K_AND_25K
                    )
                ).diabetes_risk
                for health in GeneralHealth
            }
            changed = changed or len(answers) > 1
    assert changed
