"""make/kube.mk for real: missing tools and variables stop a target with one line; commands are printed without
secret values; kube-secrets refuses key material from the repository or private keys; kube-upload puts a package
into a real MinIO through the port-forward it opens.

No cluster runs here, so "kubectl" in some tests is a small recording stand-in placed first on PATH; docker,
kubectl, helm and minikube are otherwise taken off PATH, which is exactly the situation the checks are for.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from diabetes_risk_model.signing import Key, Keyring, build_package
from diabetes_risk_model.storage import open_store
from tests.support.deploy import REPO, container, make_variable, pod_spec

CLUSTER_TOOLS = ("docker", "kubectl", "helm", "minikube")
TARGETS = {
    "build-image": ["docker"],
    "kube-namespace": ["kubectl"],
    "kube-secrets": ["kubectl"],
    "kube-minio": ["helm"],
    "kube-upload": ["kubectl"],
    "kube-config": ["kubectl"],
    "kube-deploy": ["kubectl"],
    "kube-status": ["kubectl"],
    "kube-delete": ["kubectl", "helm"],
}
MAKEFILES = ["make/kube.mk", "Makefile"]


@pytest.fixture(scope="module")
def bare_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of links to every program on PATH except the cluster tools."""
    directory = tmp_path_factory.mktemp("bare-path")
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry or not Path(entry).is_dir():
            continue
        for program in Path(entry).iterdir():
            target = directory / program.name
            if program.name in CLUSTER_TOOLS or target.exists() or target.is_symlink():
                continue
            if program.is_file() and os.access(program, os.X_OK):
                target.symlink_to(program)
    for tool in CLUSTER_TOOLS:
        assert not (directory / tool).exists()
    assert (directory / "make").exists(), "make is not installed"
    return directory


def stub(directory: Path, name: str, body: str) -> Path:
    """A stand-in program written in Python (the interpreter running the tests)."""
    path = directory / name
    path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


RECORDER = """import json, os, sys
data = sys.stdin.read() if not sys.stdin.isatty() and "-f" in sys.argv and "-" in sys.argv else ""
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps({"tool": os.path.basename(sys.argv[0]), "argv": sys.argv[1:], "stdin": data}) + "\\n")
if sys.argv[1:3] == ["get", "nodes"]:  # one Ready node that holds the service image (kube-minio, kube-deploy)
    image = {"names": ["docker.io/library/diabetes_risk_model_service:0.1.0"]}
    node = {"status": {"conditions": [{"type": "Ready", "status": "True"}], "images": [image]}}
    print(json.dumps({"items": [node]}))
"""
NODES = ["get", "nodes", "-o", "json", "--request-timeout=10s"]


def make(
    target: str, path: Path, makefile: str = "make/kube.mk", extra_env: dict[str, str] | None = None, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": str(path),
        "HOME": os.environ.get("HOME", "/root"),
        "DRM_TOOLS": os.environ.get("DRM_TOOLS", str(Path.home() / ".cache" / "drm-tools")),
        "PYTHON": sys.executable,
    }
    env.update(extra_env or {})
    return subprocess.run(
        ["make", "--no-print-directory", "-f", makefile, target, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


@pytest.mark.parametrize("makefile", MAKEFILES)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_missing_tool_is_one_line_and_a_failure(target: str, makefile: str, bare_path: Path) -> None:
    assert (REPO / makefile).is_file(), f"{makefile} is missing"
    result = make(target, bare_path, makefile)
    assert result.returncode != 0
    output = lines(result)
    assert len(output) == 1, output
    assert TARGETS[target][0] in output[0] and "not installed" in output[0] and target in output[0], output


def test_kube_delete_needs_helm_too(bare_path: Path, tmp_path: Path) -> None:
    directory = tmp_path / "bin"
    directory.mkdir()
    stub(directory, "kubectl", "raise SystemExit('kubectl must not run')")
    result = make("kube-delete", Path(f"{directory}{os.pathsep}{bare_path}"))
    assert result.returncode != 0
    (line,) = lines(result)
    assert "'helm' is not installed" in line


@pytest.fixture
def stub_path(bare_path: Path, tmp_path: Path) -> tuple[Path, Path]:
    """PATH with recording docker/kubectl/helm stand-ins; returns (PATH, log file)."""
    directory = tmp_path / "stubs"
    directory.mkdir()
    for tool in ("docker", "kubectl", "helm"):
        stub(directory, tool, RECORDER)
    return Path(f"{directory}{os.pathsep}{bare_path}"), tmp_path / "calls.jsonl"


def calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


RECORDING_PYTHON = """import json, os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps({"tool": "python", "argv": sys.argv[1:], "stdin": ""}) + "\\n")
"""


@pytest.mark.parametrize(
    ("target", "variable", "env"),
    [
        ("kube-secrets", "MINIO_ROOT_USER", {}),
        ("kube-secrets", "MINIO_ROOT_PASSWORD", {"MINIO_ROOT_USER": "admin"}),
        ("kube-secrets", "MINIO_SECRET_KEY", {"MINIO_ROOT_USER": "admin", "MINIO_ROOT_PASSWORD": "p" * 12}),
        (
            "kube-secrets",
            "MODEL_PUBLIC_KEYRING",
            {"MINIO_ROOT_USER": "admin", "MINIO_ROOT_PASSWORD": "p" * 12, "MINIO_SECRET_KEY": "s" * 12},
        ),
        ("kube-upload", "PACKAGE", {}),
        ("kube-upload", "MODEL_PUBLIC_KEYRING", {"PACKAGE": "{file}"}),
        ("kube-upload", "MINIO_ROOT_USER", {"PACKAGE": "{file}", "MODEL_PUBLIC_KEYRING": "{file}"}),
        ("kube-config", "PACKAGE", {"MODEL_PARAMETERS_VERSION": "2026_11_22"}),
        ("kube-config", "MODEL_PUBLIC_KEYRING", {"PACKAGE": "{file}"}),
    ],
)
def test_missing_variable_is_one_line_and_nothing_runs(
    target: str, variable: str, env: dict[str, str], stub_path: tuple[Path, Path], tmp_path: Path
) -> None:
    """Stops while make expands the recipe: neither kubectl nor the project's Python (which verifies the package)
    has run, so it takes no longer than make itself."""
    path, log = stub_path
    present = tmp_path / "present.zip"
    present.write_bytes(b"exists")
    python = stub(tmp_path, "python", RECORDING_PYTHON)
    env = {name: value.replace("{file}", str(present)) for name, value in env.items()}
    result = make(target, path, extra_env={"STUB_LOG": str(log), "PYTHON": str(python), **env})
    assert result.returncode != 0
    (line,) = lines(result)
    assert variable in line and "not set" in line and target in line, line
    assert calls(log) == []


def secret_env(tmp_path: Path, keyring: Path) -> dict[str, str]:
    return {
        "MINIO_ROOT_USER": "admin-user",
        "MINIO_ROOT_PASSWORD": "root-password-value-1",
        "MINIO_SECRET_KEY": "service-password-value-2",
        "MODEL_PUBLIC_KEYRING": str(keyring),
    }


def write_keyring(path: Path, public: bool) -> Path:
    ring = Keyring([Key.generate("release-1", "ecdsa-p256")])
    return (ring.public() if public else ring).save(path)


def test_kube_secrets_refuses_an_hmac_keyring(stub_path: tuple[Path, Path], tmp_path: Path) -> None:
    """An HMAC key has no public view: the secret that verifies also signs, so it never goes to a pod."""
    path, log = stub_path
    keyring = tmp_path / "keys" / "keyring.json"  # as earlier builds wrote HMAC keys (Key no longer makes them)
    keyring.parent.mkdir(parents=True)
    entry = {"key_id": "hmac-1", "alg": "hmac-sha256", "created": "2026-01-01T00:00:00Z", "secret": "c2VjcmV0" * 8}
    keyring.write_text(json.dumps({"format": "diabetes-risk-model/keyring/v1", "keys": [entry]}))
    result = make("kube-secrets", path, extra_env={"STUB_LOG": str(log), **secret_env(tmp_path, keyring)})
    assert result.returncode != 0
    assert "'hmac-1' is an HMAC key" in result.stdout + result.stderr
    assert calls(log) == []


def created_keys(argv: list[str]) -> set[str]:
    """The keys a `kubectl create secret|configmap ... --from-literal=K=V --from-file=K=PATH` call creates."""
    keys = set()
    for arg in argv:
        for option in ("--from-literal=", "--from-file="):
            if arg.startswith(option):
                key, sep, _ = arg[len(option) :].partition("=")
                assert sep, f"{arg}: name the key explicitly"
                keys.add(key)
    return keys


def test_kube_secrets_hands_the_pod_nothing_that_can_sign(stub_path: tuple[Path, Path], tmp_path: Path) -> None:
    """Even with the old HMAC variables in the operator's shell, the service's Secret holds the MinIO credentials
    and a keyring with no signing material, and nothing else."""
    path, log = stub_path
    keyring = write_keyring(tmp_path / "keys" / "public-keyring.json", public=True)
    env = {
        **secret_env(tmp_path, keyring),
        "PARAMETERS_SIGNING_KEY": "an-hmac-secret-of-enough-length-0123456789",
        "PARAMETERS_SIGNING_KEY_ID": "legacy",
    }
    result = make("kube-secrets", path, extra_env={"STUB_LOG": str(log), **env})
    assert result.returncode == 0, result.stdout + result.stderr
    service = next(
        c["argv"] for c in calls(log) if c["argv"][:2] == ["create", "secret"] and "model-service-secrets" in c["argv"]
    )
    assert isinstance(service, list)
    assert created_keys(service) == {"MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "keyring.json"}
    assert env["PARAMETERS_SIGNING_KEY"] not in " ".join(service) + result.stdout + result.stderr
    (keyring_file,) = [arg.split("=", 2)[2] for arg in service if arg.startswith("--from-file=keyring.json=")]
    ring = Keyring.load(Path(keyring_file))
    assert len(ring) and not ring.has_secrets and not any(key.can_sign for key in ring.keys)


def test_kube_secrets_refuses_a_keyring_inside_the_repository(stub_path: tuple[Path, Path], tmp_path: Path) -> None:
    path, log = stub_path
    env = secret_env(tmp_path, REPO / "kubernetes" / "namespace.yaml")
    result = make("kube-secrets", path, extra_env={"STUB_LOG": str(log), **env})
    assert result.returncode != 0
    (line,) = lines(result)
    assert "inside the repository" in line
    assert calls(log) == []


def test_kube_secrets_refuses_private_keys(stub_path: tuple[Path, Path], tmp_path: Path) -> None:
    path, log = stub_path
    keyring = write_keyring(tmp_path / "keys" / "keyring.json", public=False)
    result = make("kube-secrets", path, extra_env={"STUB_LOG": str(log), **secret_env(tmp_path, keyring)})
    assert result.returncode != 0
    assert "private keys (release-1)" in result.stdout + result.stderr
    assert calls(log) == []


@pytest.mark.parametrize("makefile", MAKEFILES)
def test_kube_secrets_passes_values_to_kubectl_but_never_prints_them(
    stub_path: tuple[Path, Path], tmp_path: Path, makefile: str
) -> None:
    path, log = stub_path
    keyring = write_keyring(tmp_path / "keys" / "public-keyring.json", public=True)
    env = secret_env(tmp_path, keyring)
    result = make("kube-secrets", path, makefile, extra_env={"STUB_LOG": str(log), **env})
    assert result.returncode == 0, result.stdout + result.stderr
    printed = result.stdout + result.stderr
    for name in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_SECRET_KEY"):
        assert env[name] not in printed, f"{name}'s value was printed"
        assert f"${name}" in printed, "the printed command should name the variable"
    assert "kubectl create secret generic minio-root-credentials" in printed
    creates = [c["argv"] for c in calls(log) if c["argv"][:2] == ["create", "secret"]]
    applies = [c for c in calls(log) if c["argv"][0] == "apply"]
    assert len(creates) == 2 and len(applies) == 2
    root, service = creates
    assert f"--from-literal=rootUser={env['MINIO_ROOT_USER']}" in root
    assert f"--from-literal=rootPassword={env['MINIO_ROOT_PASSWORD']}" in root
    assert f"--from-literal=MINIO_ACCESS_KEY={make_variable('MINIO_SERVICE_USER')}" in service
    assert f"--from-literal=MINIO_SECRET_KEY={env['MINIO_SECRET_KEY']}" in service
    assert f"--from-file=keyring.json={keyring}" in service
    assert not any("PARAMETERS_SIGNING_KEY" in arg for arg in service), "no HMAC key, ever"
    for apply in applies:
        assert "--server-side" in apply["argv"], "client-side apply would copy the Secret into an annotation"
    assert root[root.index("--namespace") + 1] == service[service.index("--namespace") + 1] == "model-services"


SEQUENCE = 7


def signed_package(
    directory: Path,
    keyring: Keyring,
    parameters_version: str = "2026_11_22",
    sequence: int = SEQUENCE,
    version: str = "0.1.0",
) -> Path:
    """A real package in our format (its model.pkl is a harmless pickle, never unpickled here)."""
    directory.mkdir(parents=True, exist_ok=True)
    model = directory / "model.pkl"
    model.write_bytes(pickle.dumps({"not": "a model"}))
    return build_package(
        directory / "out",
        name="diabetes_risk_model",
        version=version,
        parameters_version=parameters_version,
        model_pickle=model,
        extra_members={},
        keyring=keyring,
        sequence=sequence,
    )


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, Path, Keyring]:
    """(signed package, public keyring file, signing keyring)."""
    ring = Keyring([Key.generate("release-1", "ecdsa-p256")])
    public = ring.public().save(tmp_path / "keys" / "public-keyring.json")
    return signed_package(tmp_path / "package", ring), public, ring


def configmap_call(log: Path) -> list[str]:
    (create,) = [c["argv"] for c in calls(log) if c["argv"][:2] == ["create", "configmap"]]
    assert isinstance(create, list)
    return create


def test_kube_config_writes_the_config_file_the_package_choice_and_its_pin(
    stub_path: tuple[Path, Path], release: tuple[Path, Path, Keyring]
) -> None:
    path, log = stub_path
    package, public, _ = release
    env = {"STUB_LOG": str(log), "PACKAGE": str(package), "MODEL_PUBLIC_KEYRING": str(public)}
    result = make("kube-config", path, extra_env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    create = configmap_call(log)
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    assert "model-service-config" in create
    assert "--from-file=kubernetes_rest_config.yaml=configuration/kubernetes_rest_config.yaml" in create
    assert "--from-literal=MODEL_PARAMETERS_VERSION=2026_11_22" in create
    assert f"--from-literal=MODEL_PACKAGE_SHA256={digest}" in create
    assert f"--from-literal=MODEL_MIN_SEQUENCE={SEQUENCE}" in create
    assert "--from-literal=MINIO_URL=minio.model-services.svc.cluster.local:9000" in create
    assert "--from-literal=MINIO_SECURE=false" in create
    assert f"kube-config: serving {package.name} sequence={SEQUENCE} sha256={digest}" in result.stdout


def test_every_key_the_deployment_reads_is_one_a_kube_target_creates(
    stub_path: tuple[Path, Path], release: tuple[Path, Path, Keyring], tmp_path: Path
) -> None:
    """Run kube-secrets and kube-config (recording kubectl) and compare the keys they create with every
    secretKeyRef, configMapKeyRef and volume item of the Deployment."""
    path, log = stub_path
    package, public, _ = release
    env = {"STUB_LOG": str(log), "PACKAGE": str(package), **secret_env(tmp_path, public)}
    for target in ("kube-secrets", "kube-config"):
        result = make(target, path, extra_env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    created: dict[str, set[str]] = {}
    for call in calls(log):
        argv = call["argv"]
        assert isinstance(argv, list)
        if argv[:2] in (["create", "secret"], ["create", "configmap"]):
            name = argv[3] if argv[1] == "secret" else argv[2]
            created[name] = created.get(name, set()) | created_keys(argv)
    wanted: set[tuple[str, str]] = set()
    for item in container()["env"]:
        source = item.get("valueFrom", {})
        for kind in ("secretKeyRef", "configMapKeyRef"):
            if kind in source:
                wanted.add((source[kind]["name"], source[kind]["key"]))
    for volume in pod_spec()["volumes"]:
        for kind, name_field in (("secret", "secretName"), ("configMap", "name")):
            if kind in volume:
                wanted |= {(volume[kind][name_field], item["key"]) for item in volume[kind]["items"]}
    missing = sorted((name, key) for name, key in wanted if key not in created.get(name, set()))
    assert not missing, f"the Deployment reads keys no kube-* target creates: {missing}"
    assert {("model-service-config", "MODEL_PACKAGE_SHA256"), ("model-service-config", "MODEL_MIN_SEQUENCE")} <= wanted


@pytest.mark.parametrize("problem", ["unknown key", "tampered", "other parameters version", "other version"])
def test_kube_config_refuses_a_package_the_service_would_not_serve(
    stub_path: tuple[Path, Path], release: tuple[Path, Path, Keyring], tmp_path: Path, problem: str
) -> None:
    path, log = stub_path
    package, public, ring = release
    env = {"STUB_LOG": str(log), "PACKAGE": str(package), "MODEL_PUBLIC_KEYRING": str(public)}
    expected = {
        "unknown key": "refused: UnknownKey",
        "tampered": "refused: ",
        "other parameters version": "MODEL_PARAMETERS_VERSION is 2026_12_01 but PACKAGE",
        "other version": "this service loads diabetes_risk_model",
    }[problem]
    if problem == "unknown key":
        attacker = Keyring([Key.generate("attacker", "ecdsa-p256")])
        env["PACKAGE"] = str(signed_package(tmp_path / "attacker", attacker))
    elif problem == "tampered":
        raw = bytearray(package.read_bytes())
        raw[len(raw) // 3] ^= 0x01
        package.write_bytes(bytes(raw))
    elif problem == "other parameters version":
        env["MODEL_PARAMETERS_VERSION"] = "2026_12_01"
    else:
        env["PACKAGE"] = str(signed_package(tmp_path / "other", ring, version="9.9.9"))
    result = make("kube-config", path, extra_env=env)
    assert result.returncode != 0
    refusals = [line for line in lines(result) if line.startswith("kube-config: ")]
    assert len(refusals) == 1 and expected in refusals[0], lines(result)
    assert calls(log) == [], "kubectl ran although the package was refused"


def test_kube_minio_installs_the_chart_with_our_values(stub_path: tuple[Path, Path], tmp_path: Path) -> None:
    path, log = stub_path
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("name: minio\n", encoding="utf-8")
    result = make("kube-minio", path, extra_env={"STUB_LOG": str(log), "MINIO_CHART": str(chart)})
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = calls(log)
    readyz = ["get", "--raw", "/readyz", "--request-timeout=5s"]
    assert [c["argv"] for c in recorded if c["tool"] == "kubectl"] == [readyz, NODES]
    ((helm_call),) = [c["argv"] for c in recorded if c["tool"] == "helm"]
    assert helm_call[:4] == ["upgrade", "--install", "minio", str(chart)]
    assert helm_call[helm_call.index("--values") + 1] == "kubernetes/minio_values.yaml"
    assert helm_call[helm_call.index("--namespace") + 1] == "model-services"
    assert "helm upgrade --install minio" in result.stdout


def test_kube_minio_without_the_chart_says_how_to_get_it(stub_path: tuple[Path, Path], tmp_path: Path) -> None:
    path, log = stub_path
    result = make("kube-minio", path, extra_env={"STUB_LOG": str(log), "MINIO_CHART": str(tmp_path / "none")})
    assert result.returncode != 0
    (line,) = lines(result)
    assert "Chart.yaml not found" in line and "install_deploy_tools.sh" in line


def test_build_image_tags_the_package_version_and_labels_the_build(stub_path: tuple[Path, Path]) -> None:
    path, log = stub_path
    result = make("build-image", path, extra_env={"STUB_LOG": str(log)})
    assert result.returncode == 0, result.stdout + result.stderr
    ((argv),) = [c["argv"] for c in calls(log)]
    assert argv[0] == "build" and argv[-1] == "."
    assert argv[argv.index("-t") + 1] == "diabetes_risk_model_service:0.1.0"
    build_args = dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg == "--build-arg")
    assert build_args["VERSION"] == "0.1.0"
    assert len(build_args["BUILD_DATE"]) == len("2026-11-22T00:00:00Z") and build_args["BUILD_DATE"].endswith("Z")


def test_help_lists_every_deployment_target() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=REPO, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for target in TARGETS:
        assert target in result.stdout, f"make help does not list {target}"


FORWARDER_SCRIPT = REPO / "tests" / "forwarder.py"  # the shared stand-in for a connected port-forward
FORWARDER = f"""import os, sys
args = sys.argv[1:]
if args[:3] == ["get", "--raw", "/readyz"]:  # the targets' API-server reachability check: a reachable server
    raise SystemExit(0)
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(" ".join(args) + "\\n")
if args[0] != "port-forward":
    raise SystemExit("unexpected kubectl call")
forwarder = {str(FORWARDER_SCRIPT)!r}
os.execv(sys.executable, [sys.executable, forwarder, args[-1].split(":")[0], os.environ["FORWARD_TO"]])
"""


@pytest.mark.parametrize("makefile", MAKEFILES)
def test_kube_upload_verifies_publishes_and_prints_the_pin(
    minio_server: object, bare_path: Path, tmp_path: Path, makefile: str, release: tuple[Path, Path, Keyring]
) -> None:
    from tests.support.minio_server import free_port

    package, public, _ = release
    directory = tmp_path / "bin"
    directory.mkdir()
    stub(directory, "kubectl", FORWARDER)
    # Published under the name the service fetches, whatever the local file is called.
    local = package.rename(package.with_name("candidate.zip"))
    log = tmp_path / "kubectl.log"
    env = {
        "STUB_LOG": str(log),
        "FORWARD_TO": minio_server.endpoint,  # type: ignore[attr-defined]
        "MINIO_ROOT_USER": minio_server.access_key,  # type: ignore[attr-defined]
        "MINIO_ROOT_PASSWORD": minio_server.secret_key,  # type: ignore[attr-defined]
        "PACKAGE": str(local),
        "MODEL_PUBLIC_KEYRING": str(public),
        "MINIO_LOCAL_PORT": str(free_port()),
    }
    result = make("kube-upload", Path(f"{directory}{os.pathsep}{bare_path}"), makefile, extra_env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    published = [line for line in result.stdout.splitlines() if line.startswith("published ")]
    assert published == [f"published {package.name} sequence={SEQUENCE} sha256={digest}"], result.stdout
    assert minio_server.secret_key not in result.stdout + result.stderr  # type: ignore[attr-defined]
    assert log.read_text().split()[:4] == ["port-forward", "--namespace", "model-services", "svc/minio"]
    store = open_store(
        minio_server.endpoint,
        "model-files",
        minio_server.access_key,
        minio_server.secret_key,  # type: ignore[attr-defined]
    )
    copy = store.download(package.name, tmp_path / "downloaded.zip")
    assert copy.read_bytes() == local.read_bytes()
    assert shutil.which("kubectl", path=str(bare_path)) is None


def test_kube_upload_never_publishes_a_package_that_does_not_verify(
    stub_path: tuple[Path, Path], tmp_path: Path, release: tuple[Path, Path, Keyring]
) -> None:
    """Signed by a key the service does not hold: refused in one line before any port-forward opens."""
    path, log = stub_path
    _, public, _ = release
    forged = signed_package(tmp_path / "forged", Keyring([Key.generate("attacker", "ecdsa-p256")]))
    env = {
        "STUB_LOG": str(log),
        "PACKAGE": str(forged),
        "MODEL_PUBLIC_KEYRING": str(public),
        "MINIO_ROOT_USER": "admin-user",
        "MINIO_ROOT_PASSWORD": "root-password-value-1",
    }
    result = make("kube-upload", path, extra_env=env)
    assert result.returncode != 0
    refusals = [line for line in lines(result) if line.startswith("kube-upload: ")]
    assert len(refusals) == 1 and "refused: UnknownKey" in refusals[0], lines(result)
    assert "published" not in result.stdout
    assert calls(log) == [], "kubectl ran although the package was refused"
