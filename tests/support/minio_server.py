"""Run a real MinIO server process on loopback: the one MinIO runner of the test suite and of ``make run``.

MinIO's community edition ships as source; ``scripts/build_minio.sh`` builds
the pinned version with ``go install`` into a cache outside the repository.
This module finds that binary, starts it on ``127.0.0.1`` with a data
directory and a free port, waits until it reports ready, and stops it.
It lives outside the package: the service and its image never contain it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from diabetes_risk_model.errors import ConfigurationError, StorageUnavailable

DEFAULT_TOOLS_DIR = Path.home() / ".cache" / "drm-tools"


def find_minio_binary() -> Path:
    """``$MINIO_BIN``, else ``$DRM_TOOLS/bin/minio``, else ``minio`` on PATH."""
    candidates = []
    if os.environ.get("MINIO_BIN"):
        candidates.append(Path(os.environ["MINIO_BIN"]))
    tools = Path(os.environ.get("DRM_TOOLS", str(DEFAULT_TOOLS_DIR)))
    candidates.append(tools / "bin" / "minio")
    on_path = shutil.which("minio")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigurationError(
        "MinIO server binary not found (set MINIO_BIN, or run scripts/build_minio.sh to build it with go install)"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on *host* that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class MinioServer:
    """One MinIO process. ``start()`` and ``stop()`` may be called repeatedly; port and data persist."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    access_key: str = field(default_factory=lambda: "drm-" + secrets.token_hex(6))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    binary: Path = field(default_factory=find_minio_binary)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    #: Distributed mode: every node's drive as ``http://HOST:PORT/abs/dir`` (empty: standalone on data_dir).
    volumes: tuple[str, ...] = ()
    #: The address to listen on: loopback, or a test network namespace's own address (see minio_cluster).
    host: str = "127.0.0.1"

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self, timeout: float = 60.0) -> MinioServer:
        if self.running:
            return self
        self.launch()
        self.wait_ready(timeout)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self) -> None:
        """Start the process without waiting: the nodes of a distributed deployment must all be launched
        before any of them can become ready."""
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            MINIO_ROOT_USER=self.access_key,
            MINIO_ROOT_PASSWORD=self.secret_key,
            MINIO_BROWSER="off",
            MINIO_UPDATE="off",
            MINIO_CI_CD="1",
        )
        log_path = self.log_path or self.data_dir.parent / f"minio-{self.port}.log"
        self.log_path = log_path
        # Standalone: the data directory is the one drive. Distributed: every node gets the same list of
        # every node's drive URL and finds its own by its --address port.
        drives = list(self.volumes) or [str(self.data_dir)]
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    "server",
                    *drives,
                    "--address",
                    self.endpoint,
                    "--console-address",
                    f"{self.host}:{free_port(self.host)}",
                    "--quiet",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Ready means the S3 API answers: the health probe turns green before S3 stops answering 503."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise StorageUnavailable(f"MinIO exited with code {self.process.returncode}; see {self.log_path}")
            if self._answers(f"{self.url}/minio/health/ready") == 200 and self._answers(f"{self.url}/") == 403:
                return  # an anonymous ListBuckets is refused (403) once S3 is initialised; 503 before
            time.sleep(0.1)
        self.stop()
        raise StorageUnavailable(f"MinIO did not become ready on {self.endpoint} within {timeout:.0f}s")

    def _answers(self, url: str) -> int | None:
        # Plain http to the server this object started only; that is why urlopen is safe below.
        if not url.startswith(f"{self.url}/"):
            raise ValueError(f"refusing to probe a URL of another server: {url!r}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # nosec B310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, OSError):
            return None

    def add_user(self, access_key: str, secret_key: str, policy: str = "readonly") -> None:
        """Create a user holding one policy (e.g. MinIO's built-in ``readonly``) through the admin API.

        This is what the Helm chart's ``users:`` entry does (``mc admin user add`` + ``mc admin policy
        attach``), here with ``minio.MinioAdmin`` and the root credentials this process was started with.
        """
        from minio import MinioAdmin
        from minio.credentials import StaticProvider

        admin = MinioAdmin(
            endpoint=self.endpoint, credentials=StaticProvider(self.access_key, self.secret_key), secure=False
        )
        admin.user_add(access_key, secret_key)
        admin.attach_policy([policy], user=access_key)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> MinioServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
