"""The model's settings: parsing opens no file, and the keyring the service verifies with may not sign.

``ModelSettings.parse`` only parses; the loader reads the keyring file, once, and refuses signing material
unless ``allow_private_keys`` says so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from diabetes_risk_model.errors import ConfigurationError
from diabetes_risk_model.prediction.loading import verification_keyring
from diabetes_risk_model.prediction.model import DiabetesRiskModel
from diabetes_risk_model.prediction.schemas import DiabetesRiskModelInput
from diabetes_risk_model.prediction.settings import ModelSettings
from diabetes_risk_model.signing import Key, Keyring
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


def test_an_hmac_secret_is_refused_unless_allowed_and_allow_legacy_admits_only_that_key(
    artifacts: Artifacts, model_settings: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVC_TEST_HMAC", artifacts.hmac_secret)
    hmac = dict(
        model_settings,
        minio_url=local_store(tmp_path / "hmac-store", artifacts.hmac_package),
        keyring_path=None,
        parameters_signing_key="${SVC_TEST_HMAC}",
        parameters_signing_key_id="svc-hmac",
    )
    with pytest.raises(ConfigurationError, match="allow_private_keys") as info:
        ModelSettings.parse(**hmac)
    assert artifacts.hmac_secret not in str(info.value)
    allowed = ModelSettings.parse(**dict(hmac, allow_private_keys=True))
    assert artifacts.hmac_secret not in repr(allowed)
    assert verification_keyring(allowed).has_secrets  # HMAC verifies with it
    assert DiabetesRiskModel(**dict(hmac, allow_legacy=True)).package.manifest.key_id == "svc-hmac"

    # allow_legacy covers the parameters_signing_key only, not secrets in a keyring file.
    hmac_file = Keyring([Key.generate("file-hmac", "hmac-sha256")]).save(tmp_path / "hmac-keyring.json")
    with pytest.raises(ConfigurationError, match="allow_private_keys"):
        DiabetesRiskModel(**dict(model_settings, keyring_path=str(hmac_file), allow_legacy=True))


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
