"""Every manifest against the Kubernetes JSON schemas, offline, with two independent validators."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from tests.support.deploy import KUBERNETES, KUBERNETES_VERSIONS, MANIFESTS, kubeconform, load_documents


def kubeconform_results(stdout: str) -> list[dict[str, Any]]:
    report = json.loads(stdout)
    resources: list[dict[str, Any]] = report["resources"]
    return resources


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", MANIFESTS)
def test_kubeconform_accepts_manifest(name: str, version: str) -> None:
    path = KUBERNETES / name
    assert path.is_file(), f"kubernetes/{name} is missing"
    result = kubeconform([str(path)], version)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["valid"] == len(load_documents(path)), report
    assert report["summary"]["skipped"] == 0 and report["summary"]["errors"] == 0, report


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", MANIFESTS)
def test_kubernetes_validate_accepts_manifest(name: str, version: str) -> None:
    for document in load_documents(KUBERNETES / name):
        kubernetes_validate.validate(document, version, strict=True)


def test_kubeconform_rejects_what_the_api_server_would() -> None:
    """The validator is really looking: a port as text and a misspelt field are refused."""
    text = (KUBERNETES / "model_service.yaml").read_text(encoding="utf-8")
    broken = text.replace("containerPort: 8000", 'containerPort: "8000"', 1)
    broken = broken.replace("readOnlyRootFilesystem", "readOnlyRootFileSystem", 1)
    assert broken != text
    result = kubeconform(["-"], KUBERNETES_VERSIONS[-1], stdin=broken)
    assert result.returncode != 0
    errors = " ".join(str(r.get("msg", "")) for r in kubeconform_results(result.stdout))
    assert "containerPort" in errors and "readOnlyRootFileSystem" in errors, errors


def test_kubernetes_validate_rejects_a_misspelt_field() -> None:
    document = next(d for d in load_documents(KUBERNETES / "model_service.yaml") if d["kind"] == "Service")
    document["spec"]["prots"] = document["spec"].pop("ports")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(document, KUBERNETES_VERSIONS[-1], strict=True)
