"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager, kube-scheduler.

Built by scripts/build_control_plane.sh (v1.33.13, cached in $DRM_TOOLS/bin/kubernetes-v1.33.13; etcd from
Debian). Everything lives in one temp directory: certificates (a throwaway CA, the API server's serving
certificate, its client certificate for kubelets, the service-account key pair), random admin and node tokens,
the kubeconfigs, etcd's data and the logs. Every port is a free one on 127.0.0.1. Pods run once a node joins
(tests/kube/node.py).

Run on its own for a manual session:  python tests/kube/control_plane.py /tmp/cp   (Ctrl-C or kill stops it)
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

K8S_VERSION = "v1.33.13"
ETCD_VERSION = "3.4.23"
TOOLS = Path(os.environ.get("DRM_TOOLS") or Path.home() / ".cache" / "drm-tools")
BIN = TOOLS / "bin" / f"kubernetes-{K8S_VERSION}"
BUILD_HINT = "run: bash scripts/build_control_plane.sh (or make control-plane)"
SERVICE_CIDR = "10.96.0.0/24"
# The node's name is the address the API server dials its kubelet at (logs, exec, port-forward).
NODE_NAME = "127.0.0.1"


class ControlPlaneError(RuntimeError):
    """The control plane could not be built, found or started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def binary(name: str) -> Path:
    """A control-plane binary of the pinned build; missing is an error naming the build script."""
    path = BIN / name
    stamp = BIN / ".version"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ControlPlaneError(f"{path} not found; {BUILD_HINT}")
    if not stamp.is_file() or stamp.read_text().strip() != K8S_VERSION:
        raise ControlPlaneError(f"{BIN} was not built from {K8S_VERSION}; {BUILD_HINT}")
    return path


def etcd_binary() -> Path:
    found = shutil.which("etcd")
    if not found:
        raise ControlPlaneError(f"etcd is not installed (apt-get install etcd-server={ETCD_VERSION}*); {BUILD_HINT}")
    return Path(found)


def _pem_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_pki(pki: Path) -> None:
    """A throwaway CA, a serving certificate for 127.0.0.1 signed by it, and the service-account key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "drm-test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("10.96.0.1"))]
                + [x509.DNSName(name) for name in names]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    # The API server's identity towards kubelets (logs, exec, port-forward): system:masters passes their webhook.
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver-kubelet-client"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {
        "ca.crt": ca.public_bytes(serialization.Encoding.PEM),
        "ca.key": _pem_key(ca_key),
        "apiserver.crt": cert.public_bytes(serialization.Encoding.PEM),
        "apiserver.key": _pem_key(key),
        "kubelet-client.crt": client.public_bytes(serialization.Encoding.PEM),
        "kubelet-client.key": _pem_key(client_key),
        "sa.key": _pem_key(sa_key),
        "sa.pub": sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }
    for name, data in files.items():
        path = pki / name
        path.write_bytes(data)
        path.chmod(0o600)


class Supervisor:
    """Processes started in their own session, logging to ``root/logs/<name>.log``; for ControlPlane and Node."""

    root: Path
    processes: dict[str, subprocess.Popen[bytes]]

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.root / "logs" / f"{name}.log").open("ab")
        try:
            self.processes[name] = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        finally:
            log.close()

    def _wait(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                tail = (self.root / "logs" / f"{name}.log").read_text(errors="replace")[-2000:]
                raise ControlPlaneError(f"{name} exited with code {process.returncode}:\n{tail}")
            if ready():
                return
            time.sleep(0.25)
        raise ControlPlaneError(f"{name} was not ready within {timeout:.0f}s; see {self.root / 'logs' / name}.log")

    def _stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class ControlPlane(Supervisor):
    """etcd, kube-apiserver, kube-controller-manager and kube-scheduler in ``root``; ``start()`` returns once the
    API is ready and the controllers run. ``node_name`` may join with ``node_kubeconfig`` (tests/kube/node.py)."""

    root: Path
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    kcm_port: int = field(default_factory=free_port)
    scheduler_port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    node_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    node_name: str = NODE_NAME
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def node_kubeconfig(self) -> Path:
        """The kubelet's: user system:node:<node_name> in group system:nodes (Node authorizer, NodeRestriction)."""
        return self.root / "node.kubeconfig"

    @property
    def kubectl_binary(self) -> Path:
        return binary("kubectl")

    def env(self) -> dict[str, str]:
        """The environment a kubectl/helm/make run against this control plane gets (our kubectl first on PATH)."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        # Our kubectl first, then helm from `make deploy-tools` (as an operator has them on PATH).
        env["PATH"] = os.pathsep.join([str(BIN), str(TOOLS / "bin"), env.get("PATH", "")])
        env["HOME"] = str(self.root / "home")  # helm's and kubectl's caches stay in the temp dir
        env["DRM_TOOLS"] = str(TOOLS)  # make/kube.mk's default derives it from HOME
        return env

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.kubectl_binary), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def _etcd_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.etcd_port), timeout=1):
                return True
        except OSError:
            return False

    def _api_ready(self) -> bool:
        if not self.kubeconfig.exists():
            return False
        return self.kubectl("get", "--raw", "/readyz", check=False, timeout=10).returncode == 0

    def write_kubeconfig(self, path: Path, token: str) -> None:
        ca = self.root / "pki" / "ca.crt"
        text = (
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: drm-test\n  cluster:\n    server: {self.server}\n    certificate-authority: {ca}\n"
            f"users:\n- name: user\n  user:\n    token: {token}\n"
            "contexts:\n- name: drm-test\n  context:\n    cluster: drm-test\n    user: user\n"
            "current-context: drm-test\n"
        )
        path.write_text(text)
        path.chmod(0o600)

    def start(self, timeout: float = 120.0) -> ControlPlane:
        apiserver, kcm, etcd = binary("kube-apiserver"), binary("kube-controller-manager"), etcd_binary()
        scheduler = binary("kube-scheduler")
        binary("kubectl")
        for sub in ("logs", "home", "etcd-data", "kcm-certs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "etcd-data").chmod(0o700)
        pki = self.root / "pki"
        write_pki(pki)
        tokens = pki / "tokens.csv"
        tokens.write_text(
            f'{self.token},admin,admin-uid,"system:masters"\n'
            f'{self.node_token},system:node:{self.node_name},node-uid,"system:nodes"\n'
        )
        tokens.chmod(0o600)
        self.write_kubeconfig(self.kubeconfig, self.token)
        self.write_kubeconfig(self.node_kubeconfig, self.node_token)
        try:
            etcd_client = f"http://127.0.0.1:{self.etcd_port}"
            etcd_peer = f"http://127.0.0.1:{self.etcd_peer_port}"
            self._spawn(
                "etcd",
                [
                    str(etcd),
                    "--name=drm-test",
                    f"--data-dir={self.root / 'etcd-data'}",
                    f"--listen-client-urls={etcd_client}",
                    f"--advertise-client-urls={etcd_client}",
                    f"--listen-peer-urls={etcd_peer}",
                    f"--initial-advertise-peer-urls={etcd_peer}",
                    f"--initial-cluster=drm-test={etcd_peer}",
                    "--listen-metrics-urls=",
                    "--log-level=warn",
                ],
            )
            self._wait("etcd", self._etcd_ready, 30)
            self._spawn(
                "kube-apiserver",
                [
                    str(apiserver),
                    f"--etcd-servers={etcd_client}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={self.api_port}",
                    "--endpoint-reconciler-type=none",
                    f"--tls-cert-file={pki / 'apiserver.crt'}",
                    f"--tls-private-key-file={pki / 'apiserver.key'}",
                    f"--client-ca-file={pki / 'ca.crt'}",
                    f"--token-auth-file={tokens}",
                    "--authorization-mode=Node,RBAC",
                    f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
                    f"--kubelet-client-key={pki / 'kubelet-client.key'}",
                    f"--service-account-key-file={pki / 'sa.pub'}",
                    f"--service-account-signing-key-file={pki / 'sa.key'}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--allow-privileged=false",
                    f"--cert-dir={self.root / 'pki'}",
                ],
            )
            self._wait("kube-apiserver", self._api_ready, timeout)
            self._spawn(
                "kube-controller-manager",
                [
                    str(kcm),
                    f"--kubeconfig={self.kubeconfig}",
                    f"--authentication-kubeconfig={self.kubeconfig}",
                    f"--authorization-kubeconfig={self.kubeconfig}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={self.kcm_port}",
                    f"--cert-dir={self.root / 'kcm-certs'}",
                    "--leader-elect=false",
                    "--controllers=*",
                    f"--service-account-private-key-file={pki / 'sa.key'}",
                    f"--root-ca-file={pki / 'ca.crt'}",
                    f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                    f"--cluster-signing-key-file={pki / 'ca.key'}",
                    "--use-service-account-credentials=true",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                ],
            )
            self._spawn(
                "kube-scheduler",
                [
                    str(scheduler),
                    f"--kubeconfig={self.kubeconfig}",
                    f"--authentication-kubeconfig={self.kubeconfig}",
                    f"--authorization-kubeconfig={self.kubeconfig}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={self.scheduler_port}",
                    "--leader-elect=false",
                ],
            )
            # The controller manager is up once it has made the "default" ServiceAccount of "default".
            self._wait("kube-controller-manager", self._default_service_account, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _default_service_account(self) -> bool:
        return self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0

    def stop(self) -> None:
        for name in ("kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
            self._stop(name)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - manual use
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/kube/control_plane.py DIR")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill PID stops it cleanly, as Ctrl-C does
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    with ControlPlane(Path(sys.argv[1]).resolve()) as plane:
        print(f"export KUBECONFIG={plane.kubeconfig}   # {plane.server}; Ctrl-C stops", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
