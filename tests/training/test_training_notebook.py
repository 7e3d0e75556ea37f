"""The notebook, headless (papermill) in fast mode on the real data, uploading to a real MinIO.

The package it uploads is downloaded again and must be accepted by the verifier with the expected name,
version and parameters version, hold exactly the promised members, and yield a model that predicts.
The signing key is random per run and must not appear anywhere in the executed notebook.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import papermill
import pytest

from diabetes_risk_model import __version__
from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.signing import Expectation, Keyring, verify_package
from diabetes_risk_model.signing.keys import ED25519, Key
from diabetes_risk_model.storage import open_store
from diabetes_risk_model.training.data import load_data, rename_columns
from diabetes_risk_model.training.package import expected_members
from diabetes_risk_model.unpickling import restricted_loads

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "diabetes_risk_model_training.ipynb"
PARAMETERS_VERSION = "2026_01_02"
BUCKET = "model-files"


def _outputs_text(notebook: dict) -> str:
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") if isinstance(output.get("text", ""), str) else "".join(output["text"]))
            for value in output.get("data", {}).values():
                parts.append(value if isinstance(value, str) else "".join(value) if isinstance(value, list) else "")
    return "\n".join(parts)


def test_notebook_has_a_parameters_cell_and_no_key_literal() -> None:
    notebook = json.loads(NOTEBOOK.read_text())
    tagged = [cell for cell in notebook["cells"] if "parameters" in cell["metadata"].get("tags", [])]
    assert len(tagged) == 1
    source = "".join(tagged[0]["source"])
    for name in ("mode", "data_path", "output_dir", "sample_rows", "parameters_version", "upload"):
        assert f"{name} =" in source
    code = "".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
    assert "PARAMETERS_SIGNING_KEY =" not in code and "Signer(" not in code  # the key only comes from the env
    assert all(not cell.get("outputs") for cell in notebook["cells"] if cell["cell_type"] == "code")  # stored clean


def test_fast_notebook_uploads_a_package_the_verifier_accepts(
    minio_server, diabetes_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only MODEL_KEYRING, as `make reproduce` after `make run`: the itsdangerous demonstration step needs no
    # PARAMETERS_SIGNING_KEY (it uses a throwaway key of its own).
    ring_path = tmp_path / "signing_keyring.json"
    Keyring([Key.generate("notebook-test", ED25519)]).save(ring_path)
    stored_key = json.loads(ring_path.read_text())["keys"][0]
    secrets_in_ring = [v for k, v in stored_key.items() if k != "public" and isinstance(v, str) and len(v) >= 32]
    assert secrets_in_ring  # the private key's encoding, which must not appear in the executed notebook
    monkeypatch.setenv("MODEL_KEYRING", str(ring_path))
    monkeypatch.delenv("PARAMETERS_SIGNING_KEY", raising=False)
    monkeypatch.delenv("PARAMETERS_SIGNING_KEY_ID", raising=False)
    monkeypatch.setenv("DIABETES_DATA", str(diabetes_csv))
    monkeypatch.setenv("MINIO_URL", minio_server.endpoint)
    monkeypatch.setenv("MINIO_ACCESS_KEY", minio_server.access_key)
    monkeypatch.setenv("MINIO_SECRET_KEY", minio_server.secret_key)
    monkeypatch.setenv("MINIO_SECURE", "false")
    monkeypatch.setenv("MODEL_FILES_BUCKET", BUCKET)
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    output_dir = tmp_path / "run"
    executed = tmp_path / "executed.ipynb"

    papermill.execute_notebook(
        str(NOTEBOOK),
        str(executed),
        # A 3,000-row sample keeps this test short; the fast preset itself (every row) is tested by test_make_run.
        parameters={
            "mode": "fast",
            "sample_rows": 3000,
            "output_dir": str(output_dir),
            "parameters_version": PARAMETERS_VERSION,
        },
        cwd=str(REPO),
        kernel_name="python3",
        progress_bar=False,
    )

    # The notebook showed pycaret's tables and the faithful tamper demonstration, and never the key.
    raw = executed.read_text()
    assert not [secret for secret in secrets_in_ring if secret in raw]
    text = _outputs_text(json.loads(raw))
    assert "Gradient Boosting Classifier" in text and "Logistic Regression" in text  # compare table
    assert "Mean" in text and "Std" in text  # create/tune CV tables
    assert "one byte appended" in text and "BadSignature" in text
    object_name = f"diabetes_risk_model-{__version__}-{PARAMETERS_VERSION}.zip"
    line = rf"^published {re.escape(object_name)} sequence=(\d+) sha256=([0-9a-f]{{64}})$"
    published = re.search(line, text, re.MULTILINE)
    assert published is not None, text[-2000:]

    # Download what MinIO holds (not the local file) and verify it as the service would.
    store = open_store(minio_server.endpoint, BUCKET, minio_server.access_key, minio_server.secret_key)
    assert store.exists(object_name)
    downloaded = store.download(object_name, tmp_path / "downloaded" / object_name)
    assert downloaded.read_bytes() == (output_dir / object_name).read_bytes()
    assert sha256_file(downloaded) == published.group(2)
    keyring = Keyring.load(ring_path)
    verified = verify_package(
        downloaded, keyring.public(), Expectation("diabetes_risk_model", __version__, PARAMETERS_VERSION)
    )
    assert verified.manifest.sequence == int(published.group(1))
    with zipfile.ZipFile(downloaded) as archive:
        assert sorted(archive.namelist()) == expected_members()
    assert "signed_model.pkl" not in expected_members()

    rows = rename_columns(load_data(diabetes_csv)).sample(1000, random_state=3)
    labels = restricted_loads(verified.model_bytes).predict(rows.drop(columns=["Diabetes"]))
    assert set(np.unique(labels)) <= {0, 1}
    assert (labels == rows["Diabetes"].to_numpy()).mean() > 0.6

    # A package signed with another key is refused.
    other = Keyring.from_env({"PARAMETERS_SIGNING_KEY": os.urandom(32).hex()})
    with pytest.raises(Exception) as refused:
        verify_package(downloaded, other)
    assert type(refused.value).__module__ == "diabetes_risk_model.errors"
