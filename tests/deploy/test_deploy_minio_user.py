"""The service's MinIO identity, as kubernetes/minio_values.yaml creates it, against a real MinIO.

The chart makes user `model-service` with MinIO's built-in policy from the values file; this checks that the
policy is enough for what the service does (download a package through the storage API) and no more (it cannot
replace or add a package, so a stolen service credential cannot plant a model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import KUBERNETES
from minio import MinioAdmin
from minio.credentials import StaticProvider

from diabetes_risk_model.errors import StorageAccessDenied
from diabetes_risk_model.storage import open_store

OBJECT_NAME = "diabetes_risk_model-0.1.0-2026_11_22.zip"


def test_service_user_can_download_but_not_upload(minio_server: Any, tmp_path: Path) -> None:
    (user,) = yaml.safe_load((KUBERNETES / "minio_values.yaml").read_text(encoding="utf-8"))["users"]
    password = "service-password-123"
    admin = MinioAdmin(
        endpoint=minio_server.endpoint, credentials=StaticProvider(minio_server.access_key, minio_server.secret_key),
        secure=False,
    )
    admin.user_add(user["accessKey"], password)
    admin.attach_policy([user["policy"]], user=user["accessKey"])

    package = tmp_path / OBJECT_NAME
    package.write_bytes(b"signed package bytes")
    open_store(minio_server.endpoint, "model-files", minio_server.access_key, minio_server.secret_key).upload(
        package, OBJECT_NAME
    )

    service_store = open_store(minio_server.endpoint, "model-files", user["accessKey"], password)
    copy = service_store.download(OBJECT_NAME, tmp_path / "copy.zip")
    assert copy.read_bytes() == package.read_bytes()

    planted = tmp_path / "planted.zip"
    planted.write_bytes(b"a model of the attacker's choosing")
    with pytest.raises(StorageAccessDenied):
        service_store.upload(planted, OBJECT_NAME)
    with pytest.raises(StorageAccessDenied):
        service_store.upload(planted, "diabetes_risk_model-0.1.0-2099_01_01.zip")
    assert open_store(
        minio_server.endpoint, "model-files", minio_server.access_key, minio_server.secret_key
    ).download(OBJECT_NAME, tmp_path / "after.zip").read_bytes() == package.read_bytes()
