"""The Dockerfile, the manifests, make/kube.mk and the service configuration agree with each other.

Each test names two places that must say the same thing; change one without the other and it fails.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

import pytest
import yaml

from diabetes_risk_model.config import placeholder_name
from diabetes_risk_model.service import METRICS_PATH
from tests.support.deploy import (
    KUBERNETES,
    cmd_port,
    container,
    container_env,
    deployment,
    dockerfile,
    load_documents,
    make_variable,
    manifest,
    package_version,
    pod_spec,
    repo_file,
)

NAMESPACE = "model-services"
PROBES = {
    "startupProbe": "/api/health/startup",
    "readinessProbe": "/api/health/ready",
    "livenessProbe": "/api/health",
}
SECRET_WORDS = ("KEY", "SECRET", "PASSWORD", "TOKEN")
CONFIGS = ("rest_config.yaml", "docker_rest_config.yaml", "kubernetes_rest_config.yaml")
# The package pin: set by `make kube-config` from the package it deploys.
PIN = {"MODEL_PACKAGE_SHA256", "MODEL_MIN_SEQUENCE"}


def load_config(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(repo_file(f"configuration/{name}").read_text("utf-8"))
    return loaded


def config_settings(name: str) -> dict[str, Any]:
    (model,) = load_config(name)["models"]
    settings: dict[str, Any] = model["configuration"]
    return settings


def kubernetes_config() -> dict[str, Any]:
    return load_config("kubernetes_rest_config.yaml")


def model_settings() -> dict[str, Any]:
    return config_settings("kubernetes_rest_config.yaml")


def metrics_path() -> str:
    """Where the app serves metrics (test_deploy_service_probes scrapes it in the real app)."""
    assert METRICS_PATH.startswith("/"), METRICS_PATH
    return METRICS_PATH


def config_placeholders(value: Any) -> set[str]:
    """Every ${NAME} value in the loaded YAML, as the service expands them (comments do not count)."""
    if isinstance(value, dict):
        return set().union(*(config_placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(config_placeholders(v) for v in value)) if value else set()
    name = placeholder_name(value)
    return {name} if name else set()


def volume(name: str) -> dict[str, Any]:
    found = [v for v in pod_spec()["volumes"] if v["name"] == name]
    assert len(found) == 1, f"no single volume {name!r} in the Deployment"
    return found[0]


def mount_for(path: str) -> tuple[dict[str, Any], str]:
    """The volumeMount holding *path*, and the path inside that volume."""
    for mount in container()["volumeMounts"]:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            return mount, path[len(prefix) :]
    raise AssertionError(f"{path} is not inside any volumeMount")


def seconds(probe: dict[str, Any]) -> int:
    return int(probe.get("initialDelaySeconds", 0) + probe["failureThreshold"] * probe["periodSeconds"])


# -- ports ---------------------------------------------------------------------------------------------------


def test_container_port_is_the_port_uvicorn_listens_on() -> None:
    (port,) = container()["ports"]
    assert port["containerPort"] == cmd_port(dockerfile())


def test_service_sends_port_80_to_the_container_port() -> None:
    service = manifest("Service")
    assert service["spec"]["type"] == "NodePort"
    (port,) = service["spec"]["ports"]
    assert port["port"] == 80
    assert port["targetPort"] == container()["ports"][0]["containerPort"] == 8000


def test_service_selects_the_deployments_pods() -> None:
    selector = manifest("Service")["spec"]["selector"]
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert selector and all(labels.get(k) == v for k, v in selector.items())
    assert deployment()["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_probes_use_the_named_container_port() -> None:
    names = {p.get("name") for p in container()["ports"]}
    for probe in PROBES:
        port = container()[probe]["httpGet"]["port"]
        assert port in names or port == container()["ports"][0]["containerPort"], (probe, port)


# -- probes --------------------------------------------------------------------------------------------------


def test_each_probe_asks_its_own_health_endpoint() -> None:
    for probe, path in PROBES.items():
        assert container()[probe]["httpGet"]["path"] == path, probe


def test_startup_probe_outlasts_the_services_storage_retries() -> None:
    """The service retries MinIO for up to attempts x (timeout + max backoff); a startup probe shorter than that
    would restart a pod that is only waiting for a slow MinIO start (and never shorter than 5 minutes)."""
    settings = model_settings()
    attempts = int(settings["storage_attempts"])
    worst = attempts * (float(settings["storage_timeout"]) + float(settings["storage_backoff_max"]))
    startup = seconds(container()["startupProbe"])
    assert startup >= max(300, worst), f"startup probe allows {startup} s, storage retries may take {worst} s"


def test_liveness_tolerates_a_few_slow_answers() -> None:
    liveness = container()["livenessProbe"]
    assert liveness["failureThreshold"] >= 3
    assert liveness["timeoutSeconds"] >= 2


# -- configuration and environment ----------------------------------------------------------------------------


def test_rest_config_points_at_the_mounted_configmap_key() -> None:
    env = container_env()
    rest_config = env["REST_CONFIG"]["value"]
    mount, inside = mount_for(rest_config)
    config_volume = volume(mount["name"])["configMap"]
    keys = {item["key"]: item["path"] for item in config_volume["items"]}
    key = posixpath.basename(rest_config)
    assert key == "kubernetes_rest_config.yaml"
    assert keys.get(key) == inside
    assert mount.get("readOnly") is True
    # kube-config creates exactly that ConfigMap and key from exactly that file.
    assert config_volume["name"] == make_variable("SERVICE_CONFIGMAP")
    assert make_variable("SERVICE_CONFIG_FILE") == "configuration/" + key


def test_model_keyring_is_the_mounted_secret_file() -> None:
    env = container_env()
    keyring = env["MODEL_KEYRING"]["value"]
    mount, inside = mount_for(keyring)
    secret = volume(mount["name"])["secret"]
    assert secret["secretName"] == make_variable("SERVICE_SECRET")
    assert {item["key"]: item["path"] for item in secret["items"]} == {"keyring.json": inside}
    assert mount.get("readOnly") is True
    kube_mk = repo_file("make/kube.mk").read_text(encoding="utf-8")
    assert '--from-file=keyring.json="$$MODEL_PUBLIC_KEYRING"' in kube_mk


def test_every_placeholder_in_the_kubernetes_config_is_set_in_the_deployment() -> None:
    """Each ${VAR} comes from a required Secret or ConfigMap key (kube-* targets write them; test_deploy_make
    checks they do), except MODEL_KEYRING, the path of the mounted keyring file (test below)."""
    needed = config_placeholders(kubernetes_config())
    assert needed, "configuration/kubernetes_rest_config.yaml has no ${VAR}: secrets must come from the environment"
    assert needed >= PIN, f"the Kubernetes config does not read {sorted(PIN - needed)}"
    env = container_env()
    missing = sorted(needed - set(env))
    assert not missing, f"the Deployment does not set {missing}"
    for name in sorted(needed - {"MODEL_KEYRING"}):
        source = env[name].get("valueFrom", {})
        kind = "secretKeyRef" if any(word in name for word in SECRET_WORDS) else "configMapKeyRef"
        assert kind in source, f"{name} must come from a {kind}"
        assert source[kind]["key"] == name, f"{name} is read from key {source[kind]['key']}"
        assert not source[kind].get("optional"), f"{name} is optional: a pod could start without it"


@pytest.mark.parametrize("name", CONFIGS)
def test_every_shipped_config_pins_the_package_from_the_environment(name: str) -> None:
    """No config leaves the digest unset or the minimum sequence at 0: both are ${VAR}s the deployment sets."""
    settings = config_settings(name)
    assert settings.get("package_sha256") == "${MODEL_PACKAGE_SHA256}", name
    assert settings.get("min_sequence") == "${MODEL_MIN_SEQUENCE}", name


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_placeholder_is_in_the_environment_table(name: str) -> None:
    reference = repo_file("docs/configuration.md").read_text(encoding="utf-8")
    rows = [line for line in reference.splitlines() if line.startswith("| `")]
    for variable in sorted(config_placeholders(load_config(name))):
        assert any(f"`{variable}`" in row.split("|")[1] for row in rows), (
            f"docs/configuration.md does not document {variable}"
        )


# -- metrics -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
def test_metrics_are_on_in_every_config_at_the_exporters_path(name: str) -> None:
    metrics = load_config(name).get("metrics")
    assert isinstance(metrics, dict) and metrics.get("enabled") is True, f"{name}: metrics are off"
    # No key of the metrics setting may move the endpoint.
    assert not {"endpoint", "path"} & set(metrics), f"{name}: metrics path overridden"


def test_scrape_annotations_name_the_container_port_and_the_metrics_path() -> None:
    annotations = deployment()["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/scrape") == "true"
    (port,) = container()["ports"]
    assert annotations.get("prometheus.io/port") == str(port["containerPort"]) == str(cmd_port(dockerfile()))
    assert annotations.get("prometheus.io/path") == metrics_path()
    assert all(isinstance(value, str) for value in annotations.values()), "annotation values are strings"


def test_operators_guide_service_monitor_scrapes_the_same_endpoint() -> None:
    """The ServiceMonitor shown in docs/operators.md selects our Service and scrapes its named port and path."""
    text = repo_file("docs/operators.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    monitors = [d for block in blocks for d in yaml.safe_load_all(block) if d and d.get("kind") == "ServiceMonitor"]
    assert len(monitors) == 1, "docs/operators.md must show one ServiceMonitor"
    (monitor,) = monitors
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == NAMESPACE
    service = manifest("Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [NAMESPACE]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == metrics_path()


def test_every_secret_and_configmap_reference_is_one_make_creates() -> None:
    kube_mk = repo_file("make/kube.mk").read_text(encoding="utf-8")
    secret, configmap = make_variable("SERVICE_SECRET"), make_variable("SERVICE_CONFIGMAP")
    for item in container()["env"]:
        source = item.get("valueFrom", {})
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            assert ref["name"] == secret, item
            assert f"--from-literal={ref['key']}=" in kube_mk, f"kube-secrets never sets {ref['key']}"
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            assert ref["name"] == configmap, item
            assert f"--from-literal={ref['key']}=" in kube_mk, f"kube-config never sets {ref['key']}"


def test_no_literal_secret_in_the_deployment() -> None:
    for item in container()["env"]:
        if any(word in item["name"] for word in SECRET_WORDS) and item["name"] != "MODEL_KEYRING":
            assert "value" not in item, f"{item['name']} is written in the manifest"


def test_make_uploads_to_the_bucket_the_service_reads() -> None:
    assert make_variable("MODEL_FILES_BUCKET") == model_settings()["model_files_bucket"]


def test_the_kubernetes_config_names_the_service_version() -> None:
    assert str(kubernetes_config()["version"]) == package_version()


# -- image and version ---------------------------------------------------------------------------------------


def test_image_tag_is_the_package_version() -> None:
    image = container()["image"]
    name, _, tag = image.rpartition(":")
    assert tag == package_version()
    assert name == make_variable("IMAGE_NAME")
    assert make_variable("IMAGE") == "$(IMAGE_NAME):$(IMAGE_VERSION)"
    for labels in (deployment()["metadata"]["labels"], deployment()["spec"]["template"]["metadata"]["labels"]):
        assert labels["app.kubernetes.io/version"] == package_version()


def test_image_is_pulled_only_when_missing() -> None:
    assert container()["imagePullPolicy"] == "IfNotPresent", "a fixed version tag needs no Always pull"


# -- namespace -----------------------------------------------------------------------------------------------


def test_everything_lives_in_the_one_namespace() -> None:
    (namespace,) = load_documents(KUBERNETES / "namespace.yaml")
    assert namespace["metadata"]["name"] == NAMESPACE == make_variable("KUBE_NAMESPACE")
    for document in load_documents(KUBERNETES / "model_service.yaml"):
        assert document["metadata"]["namespace"] == NAMESPACE, document["kind"]


# -- hardening -----------------------------------------------------------------------------------------------


def test_pod_meets_the_restricted_pod_security_standard() -> None:
    pod = pod_spec()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod.get("automountServiceAccountToken") is False
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    context = container()["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not context["capabilities"].get("add")
    assert context.get("privileged", False) is False
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    for item in pod["volumes"]:
        assert "hostPath" not in item, item["name"]


def test_tmp_is_the_only_writable_mount() -> None:
    mounts = container()["volumeMounts"]
    writable = [m["mountPath"] for m in mounts if not m.get("readOnly")]
    assert writable == ["/tmp"]
    tmp = volume(next(m["name"] for m in mounts if m["mountPath"] == "/tmp"))
    assert "emptyDir" in tmp and tmp["emptyDir"].get("sizeLimit")
    # The image sends every scratch file there.
    env_lines = " ".join(i.arguments for i in dockerfile().of("ENV", dockerfile().final_stage))
    for setting in ("HOME=/tmp", "MPLCONFIGDIR=/tmp/", "PYCARET_CUSTOM_LOGGING_PATH=/tmp/"):
        assert setting in env_lines, setting


def test_requests_and_limits_for_cpu_and_memory() -> None:
    resources = container()["resources"]
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}

    def memory(text: str) -> int:
        number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", text).groups()  # type: ignore[union-attr]
        return int(number) * units[unit]

    def cpu(text: str) -> float:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)

    assert memory(resources["requests"]["memory"]) <= memory(resources["limits"]["memory"])
    assert cpu(resources["requests"]["cpu"]) <= cpu(resources["limits"]["cpu"])


def test_no_service_links_to_shadow_the_minio_settings() -> None:
    """Kubernetes would otherwise inject MINIO_PORT=tcp://... for the minio Service into the pod."""
    assert pod_spec()["enableServiceLinks"] is False


def test_rollout_keeps_a_ready_pod() -> None:
    strategy = deployment()["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
