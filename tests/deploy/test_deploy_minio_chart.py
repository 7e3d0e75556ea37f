"""kubernetes/minio_values.yaml against the real MinIO chart: helm lint, helm template, and what it renders."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.support.deploy import KUBERNETES, KUBERNETES_VERSIONS, REPO, kubeconform, make_variable, minio_chart, tool

NAMESPACE = "model-services"
# Chart values that are passed through to Kubernetes as they are (any key is legal inside them).
# Keys the chart renders wholesale with toYaml (Kubernetes objects, not chart settings).
FREE_FORM = {
    "resources",
    "annotations",
    "labels",
    "nodeSelector",
    "environment",
    "podAnnotations",
    "podLabels",
    "securityContext",
    "containerSecurityContext",
}


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("helm")), *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=120
    )


def values() -> dict[str, Any]:
    path = KUBERNETES / "minio_values.yaml"
    assert path.is_file(), "kubernetes/minio_values.yaml is missing"
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def render(version: str) -> str:
    """``helm template`` of the MinIO chart with our values, as `make kube-minio` installs it."""
    release = make_variable("MINIO_RELEASE")
    values_file = str(KUBERNETES / "minio_values.yaml")
    chart = str(minio_chart())
    result = helm(
        "template", release, chart, "--namespace", NAMESPACE, "--values", values_file, "--kube-version", version
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def rendered() -> str:
    return render(KUBERNETES_VERSIONS[-1])


def objects(text: str, kind: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d and d.get("kind") == kind]


def test_helm_lint_strict_passes() -> None:
    result = helm("lint", str(minio_chart()), "--strict", "--values", str(KUBERNETES / "minio_values.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_value_key_is_one_the_chart_knows() -> None:
    """A misspelt key is silently ignored by Helm; compare with the chart's own values.yaml."""
    defaults = yaml.safe_load((minio_chart() / "values.yaml").read_text(encoding="utf-8"))

    def unknown(ours: dict[str, Any], theirs: dict[str, Any], prefix: str = "") -> list[str]:
        found = []
        for key, value in ours.items():
            if key not in theirs:
                found.append(prefix + key)
            elif isinstance(value, dict) and isinstance(theirs[key], dict) and theirs[key] and key not in FREE_FORM:
                found += unknown(value, theirs[key], f"{prefix}{key}.")
        return found

    templates = "".join(t.read_text(encoding="utf-8") for t in (minio_chart() / "templates").glob("*.yaml"))
    # Read by the chart's templates although its values.yaml does not declare them (each must really be read).
    undeclared = {"makeUserJob.containerSecurityContext"}
    for key in undeclared:
        assert f".Values.{key}" in templates, f"the chart no longer reads {key}"
    assert [key for key in unknown(values(), defaults) if key not in undeclared] == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_rendered_chart_is_valid_kubernetes(version: str) -> None:
    rendered = render(version)
    checked = kubeconform(["-"], version, stdin=rendered)
    assert checked.returncode == 0, checked.stdout
    summary = json.loads(checked.stdout)["summary"]
    assert summary["valid"] >= 5 and summary["errors"] == 0 and summary["skipped"] == 0, summary


def test_distributed_two_replicas_with_2gi_volumes(rendered: str) -> None:
    (statefulset,) = objects(rendered, "StatefulSet")
    assert values()["mode"] == "distributed"
    assert statefulset["spec"]["replicas"] == 2
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    command = " ".join(statefulset["spec"]["template"]["spec"]["containers"][0]["command"])
    assert "http://minio-{0...1}.minio-svc" in command, command


def test_minio_has_cpu_and_memory_requests_and_limits(rendered: str) -> None:
    (statefulset,) = objects(rendered, "StatefulSet")
    resources = statefulset["spec"]["template"]["spec"]["containers"][0]["resources"]
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[section]), resources


def test_credentials_come_from_existing_secrets_only(rendered: str) -> None:
    ours = values()
    assert ours["existingSecret"] == make_variable("MINIO_ROOT_SECRET")
    assert not ours.get("rootUser") and not ours.get("rootPassword")
    assert objects(rendered, "Secret") == [], "the chart must not create a Secret with generated or inline credentials"
    (statefulset,) = objects(rendered, "StatefulSet")
    env = {e["name"]: e for e in statefulset["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name, key in (("MINIO_ROOT_USER", "rootUser"), ("MINIO_ROOT_PASSWORD", "rootPassword")):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": ours["existingSecret"], "key": key}
    for user in ours.get("users", []):
        assert "secretKey" not in user, f"user {user['accessKey']} has an inline password"
        assert user["existingSecret"] and user["existingSecretKey"]
    assert "console123" not in rendered, "the chart's default console user leaked into the release"


def test_service_user_is_read_only_and_matches_the_service_secret() -> None:
    (user,) = values()["users"]
    assert user["policy"] == "readonly"
    assert user["accessKey"] == make_variable("MINIO_SERVICE_USER")
    assert user["existingSecret"] == make_variable("SERVICE_SECRET")
    assert user["existingSecretKey"] == "MINIO_SECRET_KEY"


def test_service_endpoint_matches_what_the_model_service_is_told(rendered: str) -> None:
    services = {s["metadata"]["name"]: s for s in objects(rendered, "Service")}
    release = make_variable("MINIO_RELEASE")
    assert release in services, sorted(services)
    port = services[release]["spec"]["ports"][0]["port"]
    url = make_variable("KUBE_MINIO_URL")
    expected = "$(MINIO_RELEASE).$(KUBE_NAMESPACE).svc.cluster.local:" + str(port)
    assert url == expected
    assert make_variable("KUBE_NAMESPACE") == NAMESPACE


def test_two_nodes_with_one_drive_each(rendered: str) -> None:
    """Distributed: two pods, each serving one drive (`/export`, not `/export-{0...n}`), one volume per pod."""
    ours = values()
    assert (ours["replicas"], ours["drivesPerNode"], ours["pools"]) == (2, 1, 1)
    (statefulset,) = objects(rendered, "StatefulSet")
    command = " ".join(statefulset["spec"]["template"]["spec"]["containers"][0]["command"])
    (endpoint,) = re.findall(r"http://\S+", command)
    assert endpoint.endswith(".svc/export"), endpoint
    assert len(statefulset["spec"]["volumeClaimTemplates"]) == 1


def test_the_chart_creates_the_read_only_service_user_from_its_secret(rendered: str) -> None:
    """The post-install job's script adds user model-service with the password from model-service-secrets and
    attaches the readonly policy (tests/deploy/test_deploy_minio_user.py checks what that policy allows)."""
    (user,) = values()["users"]
    release = make_variable("MINIO_RELEASE")
    (configmap,) = [c for c in objects(rendered, "ConfigMap") if c["metadata"]["name"] == release]
    script = configmap["data"]["add-user"]
    secret_file = f"/config/secrets/{user['existingSecret']}/{user['existingSecretKey']}"
    assert f"echo {user['accessKey']} > $MINIO_ACCESSKEY_SECRETKEY_TMP" in script
    assert f"cat {secret_file} >> $MINIO_ACCESSKEY_SECRETKEY_TMP" in script
    assert re.search(rf"^\s*createUser {re.escape(user['policy'])}\s*$", script, flags=re.MULTILINE), script
    (job,) = objects(rendered, "Job")
    sources = job["spec"]["template"]["spec"]["volumes"]
    projected = [s for v in sources if "projected" in v for s in v["projected"]["sources"]]
    items = [s["secret"] for s in projected if "secret" in s and s["secret"]["name"] == user["existingSecret"]]
    assert items and items[0]["items"] == [
        {"key": user["existingSecretKey"], "path": secret_file.removeprefix("/config/")}
    ], "the job must mount only the service user's password from the service Secret"
