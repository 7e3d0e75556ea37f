"""Store and fetch model packages: MinIO/S3 for deployments, a directory for the embedded default.

    store = open_store("127.0.0.1:9000", "model-files", access_key, secret_key)
    store.upload(Path("diabetes_risk_model-0.1.0-2026_11_22.zip"), "diabetes_risk_model-0.1.0-2026_11_22.zip")
    store.download("diabetes_risk_model-0.1.0-2026_11_22.zip", Path("/tmp/package.zip"))

The store moves bytes; it does not vouch for them. Whatever comes out of a
store is untrusted until ``diabetes_risk_model.signing.verify_package``
has accepted it.
"""

from __future__ import annotations

from diabetes_risk_model.storage._published import PackagePin, published_line
from diabetes_risk_model.storage.base import ModelStore
from diabetes_risk_model.storage.factory import open_store, store_from_env
from diabetes_risk_model.storage.local import LocalStore
from diabetes_risk_model.storage.minio_store import MinioStore

__all__ = ["LocalStore", "MinioStore", "ModelStore", "PackagePin", "open_store", "published_line", "store_from_env"]
