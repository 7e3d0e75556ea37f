"""The two stores behave alike where callers can tell: same exceptions, atomic writes.

MinIO here is the real server (built from source), started per test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from diabetes_risk_model.errors import (
    BucketNotFound,
    ConfigurationError,
    ObjectNotFound,
    StorageAccessDenied,
    StorageError,
    StorageUnavailable,
)
from diabetes_risk_model.storage import LocalStore, MinioStore, ModelStore, open_store, store_from_env
from tests.support.minio_server import MinioServer, free_port

OBJECT = "diabetes_risk_model-0.1.0-2026_11_22.zip"


@pytest.fixture(params=["local", "minio"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModelStore]:
    if request.param == "local":
        yield open_store(f"file://{tmp_path / 'store'}", "model-files")
    else:
        server: MinioServer = request.getfixturevalue("minio_server")
        yield open_store(server.endpoint, "model-files", server.access_key, server.secret_key)


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.zip"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # several chunks, not a multiple of the chunk size
    return path


def test_round_trip_creates_bucket_and_preserves_bytes(store: ModelStore, payload: Path, tmp_path: Path) -> None:
    store.upload(payload, OBJECT)
    assert store.exists(OBJECT)
    assert store.list() == [OBJECT]
    out = store.download(OBJECT, tmp_path / "out" / "fetched.zip")
    assert out.read_bytes() == payload.read_bytes()
    assert [p.name for p in out.parent.iterdir()] == ["fetched.zip"]  # no temp file left behind


def test_upload_overwrites_atomically(store: ModelStore, payload: Path, tmp_path: Path) -> None:
    store.upload(payload, OBJECT)
    second = tmp_path / "second.zip"
    second.write_bytes(b"second version")
    store.upload(second, OBJECT)
    assert store.download(OBJECT, tmp_path / "fetched.zip").read_bytes() == b"second version"


def test_missing_object(store: ModelStore, payload: Path, tmp_path: Path) -> None:
    store.upload(payload, OBJECT)
    destination = tmp_path / "fetched.zip"
    destination.write_bytes(b"previous good copy")
    with pytest.raises(ObjectNotFound) as info:
        store.download("other.zip", destination)
    assert "other.zip" in str(info.value)
    assert not store.exists("other.zip")
    # a failed download never touches what was at the destination
    assert destination.read_bytes() == b"previous good copy"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_missing_bucket(store: ModelStore, tmp_path: Path) -> None:
    with pytest.raises(BucketNotFound):
        store.download(OBJECT, tmp_path / "fetched.zip")
    assert not (tmp_path / "fetched.zip").exists()
    assert not store.exists(OBJECT)


def test_upload_of_missing_file_is_refused(store: ModelStore, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no file to upload"):
        store.upload(tmp_path / "nope.zip", OBJECT)


@pytest.mark.parametrize("name", ["", "/abs.zip", "../escape.zip", "a/../b.zip", "a\\b.zip", "a//b.zip", "x\n.zip"])
def test_unsafe_object_names_are_refused(store: ModelStore, payload: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(StorageError, match="invalid object name"):
        store.upload(payload, name)
    with pytest.raises(StorageError, match="invalid object name"):
        store.download(name, tmp_path / "x.zip")


def test_wrong_credentials_are_denied_without_leaking_them(minio_server: MinioServer, payload: Path) -> None:
    wrong_secret = "not-the-secret-" + minio_server.secret_key[:4]
    store = open_store(minio_server.endpoint, "model-files", minio_server.access_key, wrong_secret)
    with pytest.raises(StorageAccessDenied) as info:
        store.upload(payload, OBJECT)
    assert wrong_secret not in str(info.value)
    assert minio_server.secret_key not in str(info.value)


def test_unreachable_server_is_unavailable(tmp_path: Path, payload: Path) -> None:
    store = open_store(f"127.0.0.1:{free_port()}", "model-files", "user", "password", timeout=1.0)
    with pytest.raises(StorageUnavailable, match="cannot reach"):
        store.download(OBJECT, tmp_path / "fetched.zip")
    with pytest.raises(StorageUnavailable):
        store.upload(payload, OBJECT)
    assert not (tmp_path / "fetched.zip").exists()


def test_server_stopped_and_restarted_keeps_objects(minio_server: MinioServer, payload: Path, tmp_path: Path) -> None:
    store = open_store(minio_server.url, "model-files", minio_server.access_key, minio_server.secret_key)
    store.upload(payload, OBJECT)
    minio_server.stop()
    with pytest.raises(StorageUnavailable):
        store.download(OBJECT, tmp_path / "fetched.zip")
    minio_server.start()
    assert store.download(OBJECT, tmp_path / "fetched.zip").read_bytes() == payload.read_bytes()


# -- choosing a store --------------------------------------------------------------


def test_open_store_picks_the_store_the_url_names(tmp_path: Path) -> None:
    local = open_store(f"file://{tmp_path}", "bucket")
    assert isinstance(local, LocalStore) and local.bucket_dir == tmp_path / "bucket"
    plain = open_store("minio:9000", "bucket", secure=False)
    assert isinstance(plain, MinioStore) and plain.endpoint == "minio:9000" and not plain.secure
    tls = open_store("https://minio.example:9000", "bucket")
    assert isinstance(tls, MinioStore) and tls.secure and tls.endpoint == "minio.example:9000"
    assert not open_store("http://minio:9000/", "bucket").secure  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["", "file://host/dir", "file:relative", "ftp://x:1", "http://h:1/path", "h:1/path"])
def test_open_store_refuses_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(url, "bucket")


def test_store_from_env(tmp_path: Path) -> None:
    store = store_from_env({"MINIO_URL": f"file://{tmp_path}", "MODEL_FILES_BUCKET": "b"})
    assert isinstance(store, LocalStore) and store.bucket_dir == tmp_path / "b"
    default_bucket = store_from_env({"MINIO_URL": "minio:9000", "MINIO_SECURE": "true"})
    assert isinstance(default_bucket, MinioStore) and default_bucket.bucket == "model-files" and default_bucket.secure
    with pytest.raises(ConfigurationError, match="MINIO_URL"):
        store_from_env({})
    with pytest.raises(ConfigurationError, match="MINIO_SECURE"):
        store_from_env({"MINIO_URL": "minio:9000", "MINIO_SECURE": "maybe"})


def test_storage_cli_round_trip_and_one_line_errors(minio_server: MinioServer, payload: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    env = dict(
        os.environ,
        MINIO_URL=minio_server.endpoint,
        MINIO_ACCESS_KEY=minio_server.access_key,
        MINIO_SECRET_KEY=minio_server.secret_key,
    )

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "diabetes_risk_model.storage", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    up = cli("upload", str(payload), "--object", OBJECT)
    assert up.returncode == 0, up.stderr
    assert cli("list").stdout.split() == [OBJECT]
    down = cli("download", OBJECT, str(tmp_path / "back.zip"))
    assert down.returncode == 0 and (tmp_path / "back.zip").read_bytes() == payload.read_bytes()

    missing = cli("download", "nope.zip", str(tmp_path / "nope.zip"))
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("error: ") and "nope.zip" in missing.stderr
    denied = cli("list", MINIO_SECRET_KEY="wrong-secret-value")
    assert denied.returncode == 1 and "access denied" in denied.stderr
    assert "wrong-secret-value" not in denied.stderr and minio_server.secret_key not in denied.stderr


def test_a_503_with_retry_after_does_not_stall_the_client(tmp_path: Path) -> None:
    """MinIO sends 'Retry-After: 60' while starting; the store must fail fast and leave retrying to its caller."""
    import http.server
    import threading

    hits: list[str] = []

    class Starting(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b"<Error><Code>XMinioServerNotInitialized</Code></Error>"
            self.send_response(503)
            self.send_header("Retry-After", "3600")
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Starting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    outcome: list[BaseException] = []

    def fetch() -> None:
        store = open_store(f"127.0.0.1:{server.server_address[1]}", "model-files", "user", "password", timeout=2.0)
        try:
            store.download(OBJECT, tmp_path / "fetched.zip")
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(120)  # a liveness bound, not a timing assertion: honouring the header would block for an hour
    server.shutdown()
    assert not worker.is_alive(), "the client honoured Retry-After: 3600"
    assert len(outcome) == 1 and isinstance(outcome[0], StorageUnavailable)
    assert 1 <= len(hits) <= 4  # bounded: at most one client-level retry (region lookup + object)
    assert not (tmp_path / "fetched.zip").exists()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("SlowDownRead", "too few MinIO drives are online for read quorum (SlowDownRead)"),
        ("XMinioServerNotInitialized", "answered HTTP 503 (XMinioServerNotInitialized)"),
    ],
)
def test_a_503_names_minio_s_reason(tmp_path: Path, code: str, message: str) -> None:
    """After its one retry the client sees MinIO's error code; the message says why, and retrying may help."""
    import http.server
    import threading

    class Degraded(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Degraded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = open_store(f"127.0.0.1:{server.server_address[1]}", "model-files", "user", "password", timeout=2.0)
        with pytest.raises(StorageUnavailable) as info:
            store.download(OBJECT, tmp_path / "fetched.zip")
    finally:
        server.shutdown()
    assert message in str(info.value)
    assert not (tmp_path / "fetched.zip").exists()
