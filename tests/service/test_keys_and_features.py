"""What the service refuses before serving: keyrings that can sign, and pipelines that ignore an API input."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

from diabetes_risk_model.errors import ConfigurationError, FeatureMismatch
from diabetes_risk_model.prediction.model import DiabetesRiskModel
from diabetes_risk_model.prediction.schemas import Age, DiabetesRiskModelInput, GeneralHealth, Income
from diabetes_risk_model.signing import Keyring
from tests.service.conftest import PARAMETERS_VERSION, Artifacts, local_store, service_configuration


@pytest.fixture
def settings(artifacts: Artifacts, tmp_path: Path) -> dict[str, Any]:
    return {
        "model_parameters_version": PARAMETERS_VERSION,
        "minio_url": local_store(tmp_path / "store", artifacts.package),
        "keyring_path": str(artifacts.keyring_file),
        "storage_attempts": 1,
    }


# -- keyrings that can sign (issue 11 item 4) ------------------------------------------------------


def test_a_keyring_file_with_private_keys_is_refused_unless_allowed(
    artifacts: Artifacts, settings: dict[str, Any], tmp_path: Path
) -> None:
    private_file = artifacts.signing.save(tmp_path / "private-keyring.json")
    assert Keyring.load(private_file).has_secrets
    with pytest.raises(ConfigurationError, match="allow_private_keys") as info:
        DiabetesRiskModel(**dict(settings, keyring_path=str(private_file)))
    assert info.value.context["setting"] == "allow_private_keys"
    model = DiabetesRiskModel(**dict(settings, keyring_path=str(private_file), allow_private_keys=True))
    assert not model.settings.keyring.has_secrets, "only the public view is kept"
    assert model.predict(DiabetesRiskModelInput(body_mass_index=31)) is not None


def test_an_hmac_secret_is_refused_even_when_private_keys_are_allowed(
    settings: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s" * 43
    monkeypatch.setenv("SVC_TEST_HMAC", secret)
    hmac = dict(settings, keyring_path=None, parameters_signing_key="${SVC_TEST_HMAC}", allow_private_keys=True)
    with pytest.raises(ConfigurationError, match="parameters_signing_key") as info:
        DiabetesRiskModel(**hmac)
    assert info.value.context["setting"] == "parameters_signing_key" and secret not in str(info.value)
    # nor can a keyring file carry one (as earlier builds wrote them)
    entry = {"key_id": "file-hmac", "alg": "hmac-sha256", "created": "2026-01-01T00:00:00Z", "secret": "c2VjcmV0" * 8}
    hmac_file = tmp_path / "hmac-keyring.json"
    hmac_file.write_text(json.dumps({"format": "diabetes-risk-model/keyring/v1", "keys": [entry]}))
    with pytest.raises(ConfigurationError, match="HMAC key"):
        DiabetesRiskModel(**dict(settings, keyring_path=str(hmac_file), allow_private_keys=True))


def test_a_service_given_a_signing_keyring_is_not_ready(
    artifacts: Artifacts, tmp_path: Path, start_service: Any, caplog: pytest.LogCaptureFixture
) -> None:
    private_file = artifacts.signing.save(tmp_path / "private-keyring.json")
    configuration = service_configuration(
        minio_url=local_store(tmp_path / "store", artifacts.package), keyring_path=str(private_file)
    )
    with caplog.at_level(logging.INFO):
        client = start_service(configuration)
    assert client.get("/api/health/ready").status_code == 503
    assert client.get("/api/health").status_code == 503
    assert "allow_private_keys" in caplog.text


# -- the pipeline's selected features (issue 10 item 2) ---------------------------------------------


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
    ignoring_package: Path, settings: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = local_store(tmp_path / "ignoring-store", ignoring_package)
    with pytest.raises(FeatureMismatch) as info:
        DiabetesRiskModel(**dict(settings, minio_url=store))
    assert info.value.context == {"missing": ["GeneralHealth"], "extra": ["PhysicalHealth"]}
    with caplog.at_level(logging.WARNING):
        model = DiabetesRiskModel(**dict(settings, minio_url=store, feature_check="warn"))
    assert "missing GeneralHealth; extra PhysicalHealth" in caplog.text
    assert "feature_check: warn" in caplog.text
    assert model.predict(DiabetesRiskModelInput(body_mass_index=31)) is not None
    with pytest.raises(ConfigurationError, match="feature_check"):
        DiabetesRiskModel(**dict(settings, feature_check="ignore"))


def test_the_served_pipeline_uses_every_api_input(settings: dict[str, Any]) -> None:
    """With the API's own features selected, changing general_health alone changes at least one answer."""
    model = DiabetesRiskModel(**settings)

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
