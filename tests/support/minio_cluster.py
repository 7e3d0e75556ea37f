"""Several MinIO processes on one machine forming one distributed deployment, for tests.

``kubernetes/minio_values.yaml`` runs MinIO in distributed mode: 2 nodes with 1 drive each, one erasure set
of 2 drives. This reproduces that topology on one host: every node is a ``minio server`` process with its
own ``--address`` port and drive directory, started with the same list of every node's drive URL
(``http://HOST:PORT/abs/dir``; MinIO recognises its own drive by the port) and the same root user.

HOST is 127.0.0.1, except where MinIO sees a container. There it refuses drive URLs whose host resolves only
to loopback and waits for ever ("resolves to localhost in a containerized deployment, waiting for it to
resolve to a valid IP": ``PoolEndpointList.UpdateIsLocal`` in the pinned source, where "container" means
``/.dockerenv`` or ``/run/.containerenv`` exists, or ``KUBERNETES_SERVICE_HOST`` or
``MINIO_ACCESS_KEY_FILE`` is set). In that case the deployment only runs inside a network namespace that the
test run creates itself (``tests.support.netns``): HOST is then that namespace's RFC 2544
test address (198.18.0.1), as pods name each other by pod IP, and the deployment, the service under test and
every client run in the namespace, which has no route to any address of the machine. Anywhere else in a
container, :func:`cluster_host` refuses: no node ever listens on, or is reached at, the machine's own
addresses. The nodes bind that one address only, never 0.0.0.0, and their root user is a fresh random secret.

What the topology means, from MinIO's erasure code (pinned source, ``storageclass.DefaultParityBlocks`` and
``erasureObjects.putObject``): 2 drives get parity EC:1, so each object is 1 data + 1 parity shard. Reading
needs 1 drive (read quorum = data shards); writing needs both (write quorum = data shards, plus one when data
equals parity). With one node down, objects can still be read and nothing can be written.
"""

from __future__ import annotations

import io
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import urllib3

from diabetes_risk_model.errors import ConfigurationError, StorageUnavailable
from tests.support.minio_server import MinioServer, find_minio_binary, free_port
from tests.support.netns import namespace_host


def minio_sees_a_container() -> bool:
    """Whether MinIO will treat this machine as a container (the pinned ``IsDocker() || IsKubernetes()``)."""
    return (
        Path("/.dockerenv").exists()
        or Path("/run/.containerenv").exists()
        or bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        or "MINIO_ACCESS_KEY_FILE" in os.environ
    )


def cluster_host() -> str:
    """The address the nodes listen on and name each other by (see the module docstring)."""
    host = namespace_host()
    if host is not None:
        return host
    if not minio_sees_a_container():
        return "127.0.0.1"
    raise ConfigurationError(
        "MinIO refuses loopback drive URLs in a container: run the distributed deployment inside a network "
        "namespace of its own (tests.support.netns)"
    )


@dataclass
class MinioCluster:
    """*nodes* MinIO processes, one drive each, forming one deployment; ``nodes[i]`` can be stopped alone."""

    root: Path
    size: int = 2
    access_key: str = field(default_factory=lambda: "drm-" + secrets.token_hex(6))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    binary: Path = field(default_factory=find_minio_binary)
    host: str = field(default_factory=cluster_host)
    nodes: list[MinioServer] = field(init=False)

    def __post_init__(self) -> None:
        ports: list[int] = []
        while len(ports) < self.size:
            port = free_port(self.host)
            if port not in ports:
                ports.append(port)
        root = self.root.resolve()
        drives = [root / f"node{i}" / "drive" for i in range(self.size)]
        volumes = tuple(f"http://{self.host}:{port}{drive}" for port, drive in zip(ports, drives, strict=True))
        self.nodes = [
            MinioServer(
                data_dir=drive,
                port=port,
                access_key=self.access_key,
                secret_key=self.secret_key,
                binary=self.binary,
                log_path=root / f"node{i}.log",
                volumes=volumes,
                host=self.host,
            )
            for i, (port, drive) in enumerate(zip(ports, drives, strict=True))
        ]

    @property
    def endpoint(self) -> str:
        """The first node's S3 endpoint (any node serves the whole deployment)."""
        return self.nodes[0].endpoint

    def start(self, timeout: float = 90.0) -> MinioCluster:
        """Launch every stopped node, then wait until each answers S3 requests and sees write quorum.

        A distributed deployment formats its drives only once every node is up, so no node is ready before
        all of them have been launched.
        """
        deadline = time.monotonic() + timeout
        try:
            self._start(deadline)
        except BaseException:
            self.stop()  # never leave a half-started deployment behind
            raise
        return self

    def _start(self, deadline: float) -> None:
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready(max(1.0, deadline - time.monotonic()))
        # A node answers S3, and even reports a healthy cluster, before it uses a restarted peer's drive
        # again: once MinIO has marked a peer "offline temporarily", object writes through the other node
        # fail with SlowDownWrite for several seconds after the peer is back. So wait until an object write
        # (put and delete, in a probe bucket) succeeds through every node.
        for node in self.nodes:
            self._wait_writable(node, deadline)

    def _wait_writable(self, node: MinioServer, deadline: float) -> None:
        from minio import Minio
        from minio.deleteobjects import DeleteObject

        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=5), retries=False)
        client = Minio(node.endpoint, self.access_key, self.secret_key, secure=False, http_client=http)
        probe = f"drm-write-probe-{node.port}"
        while True:
            try:
                if not client.bucket_exists(probe):
                    client.make_bucket(probe)
                client.put_object(probe, "probe", io.BytesIO(b"probe"), 5)
                # The multi-object delete is the strictest write seen to fail after a restart: probe with it.
                failed = list(client.remove_objects(probe, [DeleteObject("probe")]))
                if failed:
                    raise StorageUnavailable(f"delete answered {failed[0].code}")
                client.remove_bucket(probe)
                return
            except Exception as exc:  # any failure means "not writable yet"; the last one is reported
                if time.monotonic() > deadline:
                    raise StorageUnavailable(f"MinIO at {node.endpoint} accepted no write in time: {exc}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> MinioCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class S3Login:
    """One S3 identity at one endpoint: what a client (the service, a publisher) is configured with."""

    endpoint: str
    access_key: str
    secret_key: str

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"


@dataclass
class DistributedMinio:
    """A running :class:`MinioCluster` and the service's read-only user on it."""

    cluster: MinioCluster
    service_user: tuple[str, str]

    def root(self, node: int = 0) -> S3Login:
        """The administrator, as `make kube-upload` publishes, at node *node*."""
        return S3Login(self.cluster.nodes[node].endpoint, self.cluster.access_key, self.cluster.secret_key)

    def service(self, node: int = 0) -> S3Login:
        """The read-only user the model service is given, at node *node*."""
        return S3Login(self.cluster.nodes[node].endpoint, *self.service_user)
