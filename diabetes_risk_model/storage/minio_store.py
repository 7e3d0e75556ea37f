"""The S3 store, talking to MinIO (or any S3 API) through the ``minio`` client.

Network behaviour is explicit rather than inherited from the client's
defaults: connect and read timeouts are set, and the client retries at most
once. Retrying for longer (while MinIO starts, say) is the caller's policy,
decided where it can be logged and bounded; see
``diabetes_risk_model.prediction``.

Every client error is translated into this package's storage exceptions,
split by whether retrying can help (:class:`StorageUnavailable`) or not
(access denied, bucket or object missing). Messages name the endpoint,
bucket and object, never a credential.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError

from diabetes_risk_model.errors import (
    BucketNotFound,
    ObjectNotFound,
    StorageAccessDenied,
    StorageError,
    StorageUnavailable,
)
from diabetes_risk_model.files import CHUNK_SIZE, atomic_writer
from diabetes_risk_model.storage.base import validate_object_name

_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
# MinIO's names for "too few drives online" (errErasureWriteQuorum / errErasureReadQuorum, HTTP 503).
_NO_WRITE_QUORUM = {"SlowDownWrite", "XMinioWriteQuorum"}
_NO_READ_QUORUM = {"SlowDownRead", "XMinioReadQuorum"}
_T = TypeVar("_T")


class _TqdmProgress:
    """Adapter from minio's progress protocol (set_meta/update) to a tqdm bar."""

    def __init__(self) -> None:
        self._bar: Any = None

    def set_meta(self, object_name: str, total_length: int) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total_length, desc=f"upload {object_name}", unit="B", unit_scale=True)

    def update(self, length: int) -> None:
        if self._bar is not None:
            self._bar.update(length)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class MinioStore:
    """One bucket on one S3 endpoint."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str | None,
        secret_key: str | None,
        secure: bool = False,
        timeout: float = 5.0,
        max_object_bytes: int = 4 * 1024**3,
    ) -> None:
        self.endpoint = endpoint
        self.bucket = validate_object_name(bucket)
        self.secure = secure
        self.max_object_bytes = max_object_bytes
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            # MinIO answers 503 with "Retry-After: 60" while it initialises; honouring that would turn a
            # 5-second timeout into a minute's stall. Callers own the retry policy, so the header is ignored.
            # After the one retry the last answer goes to the client (raise_on_status=False), so its S3 error
            # code (e.g. SlowDownWrite: no write quorum) reaches the message instead of "too many 503s".
            retries=urllib3.Retry(
                total=1,
                backoff_factor=0.1,
                status_forcelist=[502, 503, 504],
                respect_retry_after_header=False,
                raise_on_status=False,
            ),
            maxsize=4,
        )
        # The client does no I/O when constructed.
        self._client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, http_client=http)

    # -- error translation -----------------------------------------------------

    def _call(self, what: str, func: Callable[[], _T], object_name: str | None = None) -> _T:
        with self._translated(what, object_name):
            return func()

    @contextmanager
    def _translated(self, what: str, object_name: str | None = None) -> Iterator[None]:
        where = f"{self._scheme}://{self.endpoint}/{self.bucket}" + (f"/{object_name}" if object_name else "")
        context = {"endpoint": self.endpoint, "bucket": self.bucket, "object": object_name}
        try:
            yield
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                raise BucketNotFound(
                    f"{what}: bucket {self.bucket!r} does not exist at {self.endpoint}", **context
                ) from None
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectNotFound(f"{what}: object not found: {where}", **context) from None
            if exc.code in _DENIED:
                raise StorageAccessDenied(f"{what}: access denied by {self.endpoint} ({exc.code})", **context) from None
            if exc.code in _NO_WRITE_QUORUM:
                raise StorageUnavailable(
                    f"{what}: {self.endpoint} cannot write: too few MinIO drives are online for write quorum "
                    f"({exc.code}); {where} was not written",
                    **context,
                ) from None
            if exc.code in _NO_READ_QUORUM:
                raise StorageUnavailable(
                    f"{what}: {self.endpoint} cannot read {where}: too few MinIO drives are online for read quorum "
                    f"({exc.code})",
                    **context,
                ) from None
            status = getattr(exc.response, "status", 0) or 0
            if status >= 500:
                raise StorageUnavailable(
                    f"{what}: {self.endpoint} answered HTTP {status} ({exc.code}); it may be starting or degraded",
                    **context,
                ) from None
            raise StorageError(f"{what}: {where} answered {exc.code}", **context) from None
        except ServerError as exc:
            raise StorageUnavailable(
                f"{what}: {self.endpoint} answered HTTP {exc.status_code}; it may still be starting", **context
            ) from None
        except InvalidResponseError as exc:
            raise StorageUnavailable(f"{what}: {self.endpoint} gave a non-S3 answer ({exc})", **context) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(
                f"{what}: cannot reach {self.endpoint} ({type(exc).__name__})", **context
            ) from None

    @property
    def _scheme(self) -> str:
        return "https" if self.secure else "http"

    # -- operations ------------------------------------------------------------

    def ensure_bucket(self) -> bool:
        """Create the bucket if it is missing; return True if it was created."""
        if self._call("bucket check", lambda: self._client.bucket_exists(self.bucket)):
            return False
        try:
            self._call("bucket creation", lambda: self._client.make_bucket(self.bucket))
        except StorageError as exc:
            # Lost a race with another uploader: the bucket exists now, which is what we wanted.
            if "BucketAlreadyOwnedByYou" not in str(exc):
                raise
        return True

    def upload(self, path: Path, object_name: str, progress: bool = False) -> None:
        source = Path(path)
        if not source.is_file():
            raise StorageError(f"no file to upload at {source}", path=str(source))
        validate_object_name(object_name)
        self.ensure_bucket()
        bar = _TqdmProgress() if progress else None
        try:
            self._call(
                "upload",
                lambda: self._client.fput_object(
                    self.bucket, object_name, str(source), content_type="application/zip", progress=bar
                ),
                object_name,
            )
        finally:
            if bar is not None:
                bar.close()

    def download(self, object_name: str, destination: Path) -> Path:
        validate_object_name(object_name)
        destination = Path(destination)
        with self._translated("download", object_name):
            response = self._client.get_object(self.bucket, object_name)
            try:
                received = 0
                with atomic_writer(destination) as out:
                    for chunk in response.stream(CHUNK_SIZE):
                        received += len(chunk)
                        if received > self.max_object_bytes:
                            raise StorageError(
                                f"download: object {object_name!r} is larger than {self.max_object_bytes} bytes",
                                object=object_name,
                            )
                        out.write(chunk)
            finally:
                response.close()
                response.release_conn()
        return destination

    def exists(self, object_name: str) -> bool:
        validate_object_name(object_name)
        try:
            self._call("stat", lambda: self._client.stat_object(self.bucket, object_name), object_name)
        except ObjectNotFound:
            return False
        except StorageError as exc:
            # stat on a missing object in a missing bucket answers NoSuchBucket or a bare 404.
            if isinstance(exc, BucketNotFound) or "NoSuchKey" in str(exc) or "ResourceNotFound" in str(exc):
                return False
            raise
        return True

    def list(self) -> list[str]:
        with self._translated("list"):
            return sorted(obj.object_name for obj in self._client.list_objects(self.bucket, recursive=True))

    def __repr__(self) -> str:
        return f"MinioStore(endpoint={self.endpoint!r}, bucket={self.bucket!r}, secure={self.secure})"
