"""The service image, run as an operator runs it, against a real MinIO on loopback.

The image is built by scripts/build_image.sh (`make build-image` with rootful podman; the base image pulled, or
made from Debian packages where no registry answers). The container runs with the docker configuration, a
read-only root filesystem and a tmpfs /tmp, as uid 10001, with no capabilities and no privilege escalation; its
port is published on 127.0.0.1 only. MinIO listens on the host's 127.0.0.1 only; the container reaches it
through slirp4netns' host-loopback address (10.0.2.2), which is the host's loopback and nothing else.
"""

from __future__ import annotations

import json
import os
import pickle
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import diabetes_risk_model
from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.prediction.schemas import DiabetesRisk
from diabetes_risk_model.signing import Key, Keyring, build_package, verify_package
from diabetes_risk_model.storage import open_store
from tests.kube import kube_support as ks
from tests.kube.operator_rig import api_inputs
from tests.support.inputs import pipeline_frame
from tests.support.minio_server import MinioServer, free_port

PREDICT = "/api/models/diabetes_risk_model/prediction"
BUILD_HINT = "run: bash scripts/build_image.sh (as root)"
HOST_LOOPBACK = "10.0.2.2"  # slirp4netns with allow_host_loopback=true


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    home = ks.TOOLS / "podman"
    env = dict(os.environ)
    env.update(CONTAINERS_CONF=str(home / "containers.conf"), CONTAINERS_STORAGE_CONF=str(home / "storage.conf"))
    found = shutil.which("podman")
    assert found, f"podman is not installed; {BUILD_HINT}"
    result = subprocess.run([found, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if check:
        assert result.returncode == 0, f"podman {' '.join(args)}: {result.stderr.strip()}"
    return result


@pytest.fixture(scope="module")
def image() -> str:
    name = ks.make_variable("IMAGE")
    assert (ks.TOOLS / "podman" / "storage.conf").is_file(), f"no podman state in {ks.TOOLS / 'podman'}; {BUILD_HINT}"
    assert podman("image", "exists", name, check=False).returncode == 0, f"image {name} not built; {BUILD_HINT}"
    # The image must carry this checkout's package: compare the sources' digests, inside and here.
    digest = (
        "import hashlib, pathlib, sys\n"
        "root = pathlib.Path(sys.argv[1])\n"
        "h = hashlib.sha256()\n"
        "for p in sorted(root.rglob('*.py')):\n"
        "    h.update(str(p.relative_to(root)).encode() + b'\\0' + p.read_bytes())\n"
        "print(h.hexdigest())\n"
    )
    inside = podman(
        "run",
        "--rm",
        "--no-healthcheck",
        "--network",
        "none",
        name,
        "python",
        "-c",
        digest,
        "/service/diabetes_risk_model",
    )
    here = subprocess.run(
        [sys.executable, "-c", digest, str(ks.REPO / "diabetes_risk_model")], capture_output=True, text=True, check=True
    )
    assert inside.stdout.strip() == here.stdout.strip(), f"image {name} is stale (other sources); {BUILD_HINT}"
    return name


def http(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    assert url.startswith("http://127.0.0.1:")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # nosec B310
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def api_pipeline(diabetes_csv: Path) -> Any:
    """A real pycaret pipeline whose selected features are the API's inputs (the service refuses any other)."""
    from diabetes_risk_model.prediction.table import API_FEATURES
    from tests.support.packages import train_pipeline_on

    return train_pipeline_on(diabetes_csv, API_FEATURES)


@pytest.fixture
def served(image: str, minio_server: MinioServer, api_pipeline: Any, tmp_path: Path) -> Iterator[tuple[str, str, Any]]:
    """The image serving a real signed package of the session's pipeline from MinIO; yields (url, name, pipeline)."""
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(api_pipeline, protocol=pickle.HIGHEST_PROTOCOL))
    keyring = Keyring([Key.generate("image-test", "ecdsa-p256")])
    keys = tmp_path / "keys"
    public = keyring.public().save(keys / "public-keyring.json")
    keys.chmod(0o755)
    public.chmod(0o644)  # uid 10001 reads it through the read-only mount
    parameters_version = "2026_12_01"
    package = build_package(
        tmp_path / "package",
        name="diabetes_risk_model",
        version=diabetes_risk_model.__version__,
        parameters_version=parameters_version,
        model_pickle=model,
        extra_members={},
        keyring=keyring,
    )
    manifest = verify_package(package, keyring.public(), capture_model=False).manifest
    store = open_store(minio_server.endpoint, "model-files", minio_server.access_key, minio_server.secret_key)
    store.upload(package, package.name)

    port, name = free_port(), f"drm-image-test-{secrets.token_hex(4)}"
    environment = {
        "MINIO_URL": f"{HOST_LOOPBACK}:{minio_server.port}",
        "MINIO_SECURE": "false",
        "MINIO_ACCESS_KEY": minio_server.access_key,
        "MINIO_SECRET_KEY": minio_server.secret_key,
        "MODEL_KEYRING": "/keys/public-keyring.json",
        "MODEL_PARAMETERS_VERSION": parameters_version,
        "MODEL_PACKAGE_SHA256": sha256_file(package),
        "MODEL_MIN_SEQUENCE": str(manifest.sequence),
    }
    env_file = tmp_path / "container.env"  # credentials in a file, not on a command line
    env_file.write_text("".join(f"{k}={v}\n" for k, v in environment.items()))
    env_file.chmod(0o600)
    podman(
        "run",
        "--detach",
        "--no-healthcheck",  # podman runs HEALTHCHECKs through systemd timers; there is no systemd here
        "--name",
        name,
        "--network",
        "slirp4netns:allow_host_loopback=true",
        "--publish",
        f"127.0.0.1:{port}:8000",
        "--read-only",
        "--tmpfs",
        "/tmp:rw,size=256m,mode=1777",
        "--user",
        "10001:10001",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--volume",
        f"{keys}:/keys:ro",
        "--env-file",
        str(env_file),
        image,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                status, _ = http(f"{url}/api/health/ready")
            except OSError:
                status = 0
            if status == 200:
                break
            try:
                alive, _ = http(f"{url}/api/health")
            except OSError:
                alive = 0
            running = podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
            if running != "true" or alive == 503 or time.monotonic() > deadline:  # 503: loading failed for good
                logs = podman("logs", name, check=False)
                pytest.fail(f"container not ready (running={running}):\n{(logs.stdout + logs.stderr)[-3000:]}")
            time.sleep(1)
        yield url, name, api_pipeline
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)


def test_the_image_serves_the_pipelines_predictions_locked_down(served: tuple[str, str, Any]) -> None:
    url, name, pipeline = served
    inputs = api_inputs()
    expected = [DiabetesRisk.map(float(y)) for y in pipeline.predict(pipeline_frame(inputs))]
    for item, want in zip(inputs, expected, strict=True):
        status, body = http(f"{url}{PREDICT}", item.model_dump(mode="json", exclude_none=True))
        assert status == 200, body
        assert DiabetesRisk(body["diabetes_risk"]) == want

    status, body = http(f"{url}{PREDICT}", {"body_mass_index": "heavy"})
    assert status == 400, body
    assert "body_mass_index" in " ".join(body["messages"])

    # Who it runs as, and what it could write: nothing outside /tmp.
    identity = podman("exec", name, "id", "-u").stdout.strip()
    assert identity == "10001"
    status_line = podman("exec", name, "grep", "-E", "^(CapEff|NoNewPrivs)", "/proc/self/status").stdout.split()
    assert status_line == ["CapEff:", "0000000000000000", "NoNewPrivs:", "1"], status_line
    probe = (
        "import pathlib, sys\n"
        "for d in sys.argv[1:]:\n"
        "    try:\n"
        "        pathlib.Path(d, 'w').write_text('x')\n"
        "        print(d)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    writable = podman(
        "exec", name, "python", "-c", probe, "/", "/service", "/opt/venv", "/etc", "/var", "/tmp"
    ).stdout.split()
    assert writable == ["/tmp"], writable
    # podman diff: what differs from the image. Podman itself adds the volume's mount point (/keys) and bind-mounts
    # /etc/hosts, /etc/hostname and /etc/resolv.conf (so /etc shows as changed); nothing else may differ.
    changed = set(podman("diff", name).stdout.split("\n")) - {"", "A /keys", "C /etc"}
    assert not changed, f"the container changed its image's filesystem: {sorted(changed)}"


def test_the_image_holds_no_build_ca_and_no_pip_cache(image: str) -> None:
    """The build's RUN steps saw the host's CA bundle (bind-mounted) and pip; neither may stay in the image."""
    script = (
        "import os, pathlib, sys\n"
        "bundle = pathlib.Path('/etc/ssl/certs/ca-certificates.crt')\n"
        "print(bundle.read_text() if bundle.exists() else '')\n"
        "names = {'pip', 'http-v2', 'pip-cache'}\n"
        "found = [os.path.join(r, d) for r, ds, _ in os.walk('/') if not r.startswith(('/proc', '/sys'))"
        " for d in ds if d in names and os.path.basename(r) == '.cache']\n"
        "sys.stderr.write('\\n'.join(found))\n"
    )
    # As root inside (read everything), no network, no capabilities: this only reads the image.
    result = podman(
        "run", "--rm", "--network", "none", "--user", "0:0", "--cap-drop", "ALL", image, "python", "-c", script
    )
    caches = [line for line in result.stderr.splitlines() if line.strip() and "level=" not in line]  # podman's own logs
    assert not caches, f"pip caches in the image: {caches}"
    bundle = result.stdout
    assert "BEGIN CERTIFICATE" in bundle, "the image has no CA bundle at all"
    # The CAs this host adds to Debian's (here: a TLS-intercepting proxy's) are not in the image's bundle.
    for path in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt")):
        body = "".join(path.read_text().split("-----BEGIN CERTIFICATE-----", 1)[-1].split("-----END")[0].split())
        assert body[:200] not in "".join(bundle.split()), f"the host's {path.name} is in the image's CA bundle"


def test_the_image_ships_only_what_the_service_imports(image: str) -> None:
    """No pruned package (service_requirements.prune), no pip, no package test suites, none of our test rigs or
    development tools; the runtime check passes."""
    from tests.support.pruned import pruned

    script = (
        "import importlib.metadata as md, json, os, subprocess, sys\n"
        "service = sorted(os.listdir('/service'))\n"
        "rigs = sorted(os.path.join(r, f) for r, _, fs in os.walk('/service')"
        " for f in fs if f in {'minio_server.py', 'minio_cluster.py', 'netns.py'})\n"
        "installed = sorted(d.metadata['Name'].lower().replace('_', '-') for d in md.distributions())\n"
        "site = '/opt/venv/lib/python3.11/site-packages'\n"
        "depth = site.count('/') + 1\n"
        "tests = [r for r, _, _ in os.walk(site) if os.path.basename(r) == 'tests' and r.count('/') > depth]\n"
        "command = [sys.executable, '-m', 'diabetes_risk_model.service.runtime_check']\n"
        "check = subprocess.run(command, capture_output=True, text=True)\n"
        "print(json.dumps({'installed': installed, 'tests': tests, 'check': check.stdout + check.stderr,"
        " 'service': service, 'rigs': rigs}))\n"
    )
    result = podman("run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp", image, "python", "-c", script)
    report = json.loads(result.stdout.splitlines()[-1])
    installed = {name.replace(".", "-") for name in report["installed"]}
    assert installed, "no distribution found in the image"
    assert not installed & set(pruned()), sorted(installed & set(pruned()))
    assert "pip" not in installed
    assert report["tests"] == []
    assert {"tests", "devtools"}.isdisjoint(report["service"]), report["service"]
    assert report["rigs"] == []
    assert report["check"].startswith("runtime-check: ok ("), report["check"]
