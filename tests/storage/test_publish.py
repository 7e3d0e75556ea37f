"""``python -m diabetes_risk_model.storage upload`` prints what a deployment pins: sequence and sha256."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from diabetes_risk_model.files import sha256_file
from tests.support.packages import OBJECT_NAME, PACKAGE_SEQUENCE, Artifacts, tampered_copy

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("MODEL_KEYRING", "PARAMETERS_SIGNING_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "diabetes_risk_model.storage", *args],
        env={**base, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_upload_prints_the_verified_sequence_and_the_file_digest(artifacts: Artifacts, tmp_path: Path) -> None:
    store = f"file://{tmp_path / 'store'}"
    result = cli("upload", str(artifacts.package), MINIO_URL=store, MODEL_KEYRING=str(artifacts.keyring_file))
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == f"published {OBJECT_NAME} sequence={PACKAGE_SEQUENCE} sha256={sha256_file(artifacts.package)}\n"
    )
    assert (tmp_path / "store" / "model-files" / OBJECT_NAME).read_bytes() == artifacts.package.read_bytes()


def test_upload_without_a_keyring_says_so(artifacts: Artifacts, tmp_path: Path) -> None:
    result = cli("upload", str(artifacts.package), MINIO_URL=f"file://{tmp_path / 'store'}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"published {OBJECT_NAME} sequence=unverified sha256={sha256_file(artifacts.package)}\n"
    assert result.stderr.startswith("warning: no keyring")


def test_a_package_the_keyring_refuses_is_not_uploaded(artifacts: Artifacts, tmp_path: Path) -> None:
    tampered = tampered_copy(artifacts.package, tmp_path / OBJECT_NAME)
    result = cli(
        "upload", str(tampered), MINIO_URL=f"file://{tmp_path / 'store'}", MODEL_KEYRING=str(artifacts.keyring_file)
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert not (tmp_path / "store" / "model-files" / OBJECT_NAME).exists()
