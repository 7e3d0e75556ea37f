"""The service's MinIO identity, as kubernetes/minio_values.yaml creates it, against a real MinIO.

The chart makes user `model-service` with MinIO's built-in policy from the values file; this checks that the
policy is enough for what the service does (download a package through the storage API) and no more (it cannot
replace, add, copy or delete a package, make a bucket or change a bucket policy, so a stolen service
credential can neither plant a model nor remove the served one).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from minio import Minio, MinioAdmin
from minio.commonconfig import CopySource
from minio.credentials import StaticProvider
from minio.error import S3Error

from diabetes_risk_model.errors import StorageAccessDenied
from diabetes_risk_model.storage import open_store
from tests.support.deploy import KUBERNETES

OBJECT_NAME = "diabetes_risk_model-0.1.0-2026_11_22.zip"


def test_service_user_can_download_but_not_upload(minio_server: Any, tmp_path: Path) -> None:
    (user,) = yaml.safe_load((KUBERNETES / "minio_values.yaml").read_text(encoding="utf-8"))["users"]
    password = "service-password-123"
    admin = MinioAdmin(
        endpoint=minio_server.endpoint,
        credentials=StaticProvider(minio_server.access_key, minio_server.secret_key),
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
    # Straight to the S3 API, past our storage layer: MinIO's own policy engine refuses every write.
    client = Minio(minio_server.endpoint, access_key=user["accessKey"], secret_key=password, secure=False)
    refusals = {
        "delete": lambda: client.remove_object("model-files", OBJECT_NAME),
        "overwrite": lambda: client.put_object("model-files", OBJECT_NAME, io.BytesIO(b"x"), 1),
        "copy over": lambda: client.copy_object("model-files", "copy.zip", CopySource("model-files", OBJECT_NAME)),
        "new bucket": lambda: client.make_bucket("attacker-bucket"),
        "bucket policy": lambda: client.set_bucket_policy("model-files", '{"Version": "2012-10-17", "Statement": []}'),
    }
    for action, attempt in refusals.items():
        with pytest.raises(S3Error) as refused:
            attempt()
        assert refused.value.code == "AccessDenied", (action, refused.value.code)
    assert (
        open_store(minio_server.endpoint, "model-files", minio_server.access_key, minio_server.secret_key)
        .download(OBJECT_NAME, tmp_path / "after.zip")
        .read_bytes()
        == package.read_bytes()
    )
