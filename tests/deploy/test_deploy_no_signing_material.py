"""Nothing that can sign reaches a pod or a container (issue 11, item 4).

A pod holds the MinIO read-only credentials and a *public* keyring, and nothing else secret: no HMAC secret
(symmetric: the value that verifies also signs), no private key, no setting that would make the service accept
either. The attacker this guards against has taken over a serving pod: with signing material there they could
mint packages that every other pod accepts.

What kube-secrets really puts into the Secret is checked by running it (tests/deploy/test_deploy_make.py:
`test_kube_secrets_hands_the_pod_nothing_that_can_sign`); these tests read the files a pod is made from.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.support.deploy import KUBERNETES, container, container_env, dockerfile, load_documents, pod_spec, repo_file

CONFIGS = ("rest_config.yaml", "docker_rest_config.yaml", "kubernetes_rest_config.yaml")
# Names that stand for signing material, in an environment variable, a setting, a Secret key or a file.
SIGNING = re.compile(r"SIGNING|HMAC|PRIVATE|SIGN_KEY", re.IGNORECASE)
# The only keys a pod may read from a Secret, as environment variables or as files.
SECRET_ENV_KEYS = {"MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"}
SECRET_FILE_KEYS = {"keyring.json"}
# Settings that would make the service accept signing material or unsigned-in-practice packages.
UNSAFE_SETTINGS = ("parameters_signing_key", "parameters_signing_key_id", "allow_private_keys")


def settings(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load(repo_file(f"configuration/{name}").read_text(encoding="utf-8"))
    (model,) = loaded["models"]
    result: dict[str, Any] = model["configuration"]
    return result


def test_the_deployment_passes_no_signing_variable() -> None:
    signing = [name for name in container_env() if SIGNING.search(name)]
    assert not signing, f"the Deployment hands the pod {signing}"
    assert not container().get("envFrom"), "envFrom would hand the pod every key of a Secret or ConfigMap"


def test_the_pod_reads_only_the_minio_credentials_from_secrets() -> None:
    read = {
        item["valueFrom"]["secretKeyRef"]["key"]
        for item in container()["env"]
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert read == SECRET_ENV_KEYS, read


def test_the_only_secret_file_in_the_pod_is_the_public_keyring() -> None:
    files: set[str] = set()
    for volume in pod_spec()["volumes"]:
        sources = [volume.get("secret")] + [p.get("secret") for p in volume.get("projected", {}).get("sources", [])]
        for secret in filter(None, sources):
            assert secret.get("items"), f"volume {volume['name']} mounts every key of Secret {secret['secretName']}"
            files |= {item["key"] for item in secret["items"]}
    assert files == SECRET_FILE_KEYS, files
    assert container_env()["MODEL_KEYRING"]["value"].endswith("/keyring.json")


def test_no_manifest_names_signing_material() -> None:
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in load_documents(path):
            text = yaml.safe_dump(document)
            assert not SIGNING.search(text), f"kubernetes/{path.name} ({document.get('kind')}) names signing material"


def test_kube_targets_never_create_an_hmac_secret() -> None:
    text = repo_file("make/kube.mk").read_text(encoding="utf-8")
    assert "PARAMETERS_SIGNING_KEY" not in text
    assert '--from-file=keyring.json="$$MODEL_PUBLIC_KEYRING"' in text, "the keyring Secret is the public keyring"


@pytest.mark.parametrize("name", CONFIGS)
def test_no_shipped_config_takes_signing_material_or_allows_it(name: str) -> None:
    found = settings(name)
    unsafe = [key for key in UNSAFE_SETTINGS if key in found]
    assert not unsafe, f"configuration/{name} sets {unsafe}"
    assert found["keyring_path"] == "${MODEL_KEYRING}"


def test_the_image_sets_no_signing_variable() -> None:
    df = dockerfile()
    for instruction in df.of("ENV") + df.of("ARG"):
        assert not SIGNING.search(instruction.arguments), f"Dockerfile line {instruction.line}: {instruction.arguments}"
