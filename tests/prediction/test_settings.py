"""The model's settings: parsing opens no file, and the keyring the service verifies with may not sign.

``ModelSettings.parse`` only parses; the loader reads the keyring file, once, and refuses signing material
unless ``allow_private_keys`` says so.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from diabetes_risk_model.errors import ConfigurationError
from diabetes_risk_model.prediction.loading import verification_keyring
from diabetes_risk_model.prediction.model import DiabetesRiskModel
from diabetes_risk_model.prediction.schemas import DiabetesRiskModelInput
from diabetes_risk_model.prediction.settings import ModelSettings
from diabetes_risk_model.signing import Keyring
from tests.support.packages import Artifacts, local_store
from tests.support.service import service_configuration


def test_parsing_opens_no_file_and_the_keyring_is_read_once(
    model_settings: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = tmp_path / "no-such-keyring.json"
    parsed = ModelSettings.parse(**dict(model_settings, keyring_path=str(absent)))  # parses: the file is not read
    assert parsed.keyring_path == str(absent)
    with pytest.raises(ConfigurationError):
        verification_keyring(parsed)

    loads: list[Path] = []
    load = Keyring.load

    def counted(path: Path) -> Keyring:
        loads.append(path)
        return load(path)

    monkeypatch.setattr(Keyring, "load", counted)  # every reader of a keyring file goes through Keyring.load
    DiabetesRiskModel(**model_settings)
    assert loads == [Path(model_settings["keyring_path"])]


def test_a_keyring_file_with_private_keys_is_refused_unless_allowed(
    artifacts: Artifacts, model_settings: dict[str, Any], tmp_path: Path
) -> None:
    private_file = artifacts.signing.save(tmp_path / "private-keyring.json")
    assert Keyring.load(private_file).has_secrets
    with pytest.raises(ConfigurationError, match="allow_private_keys") as info:
        DiabetesRiskModel(**dict(model_settings, keyring_path=str(private_file)))
    assert info.value.context["setting"] == "allow_private_keys"
    allowed = ModelSettings.parse(**dict(model_settings, keyring_path=str(private_file), allow_private_keys=True))
    assert not verification_keyring(allowed).has_secrets, "only the public view is kept"
    model = DiabetesRiskModel(**dict(model_settings, keyring_path=str(private_file), allow_private_keys=True))
    assert model.predict(DiabetesRiskModelInput(body_mass_index=31)) is not None


def test_an_hmac_secret_is_refused_even_when_private_keys_are_allowed(
    model_settings: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s" * 43
    monkeypatch.setenv("SVC_TEST_HMAC", secret)
    hmac = dict(model_settings, keyring_path=None, parameters_signing_key="${SVC_TEST_HMAC}", allow_private_keys=True)
    with pytest.raises(ConfigurationError, match="parameters_signing_key") as info:
        ModelSettings.parse(**hmac)
    assert info.value.context["setting"] == "parameters_signing_key" and secret not in str(info.value)
    # nor can a keyring file carry one (as earlier builds wrote them)
    entry = {"key_id": "file-hmac", "alg": "hmac-sha256", "created": "2026-01-01T00:00:00Z", "secret": "c2VjcmV0" * 8}
    hmac_file = tmp_path / "hmac-keyring.json"
    hmac_file.write_text(json.dumps({"format": "diabetes-risk-model/keyring/v1", "keys": [entry]}))
    with pytest.raises(ConfigurationError, match="HMAC key"):
        DiabetesRiskModel(**dict(model_settings, keyring_path=str(hmac_file), allow_private_keys=True))


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
