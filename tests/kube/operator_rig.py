"""The operator's session on the test node: `make kube-*` as docs/operators.md gives it, with real packages.

Images are imported into the node's containerd instead of pulled (no registry here): the service image from the
project's podman store, MinIO and mc as images of the binaries this project builds (tests/kube/images.py), named
for the chart through MINIO_EXTRA_VALUES. MinIO's two volumes are hostPath PersistentVolumes under the node's
root, as a local-path provisioner would make them.
"""

from __future__ import annotations

import os
import pickle
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import diabetes_risk_model
from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.prediction.schemas import Age, DiabetesRisk, DiabetesRiskModelInput, GeneralHealth, Income
from diabetes_risk_model.signing import Key, Keyring, build_package, verify_package
from tests.kube import kube_support as ks
from tests.kube.control_plane import ControlPlane, free_port
from tests.kube.images import Image, mc_image, minio_image
from tests.kube.node import Node
from tests.support.inputs import pipeline_frame

MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"  # scripts/build_minio.sh
MC_VERSION = "v0.0.0-20250313080218-cf909e1063a9"  # scripts/build_node.sh
SERVICE_IMAGE_ALIAS = "docker.io/library/{image}"  # how the kubelet names the Deployment's "image: name:tag"


def podman(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    home = ks.TOOLS / "podman"
    env = dict(os.environ)
    env.update(CONTAINERS_CONF=str(home / "containers.conf"), CONTAINERS_STORAGE_CONF=str(home / "storage.conf"))
    result = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)
    assert result.returncode == 0, f"podman {' '.join(args)}: {result.stderr.strip()}; run: make test-image"
    return result


def import_images(node: Node) -> dict[str, str]:
    """The service, MinIO and mc images on the node; returns the chart's image values."""
    started = time.monotonic()
    images = node.root / "images"
    for image in (
        minio_image(images, ks.TOOLS / "bin" / "minio", MINIO_VERSION),
        mc_image(images, ks.TOOLS / "bin" / "mc", MC_VERSION),
    ):
        node.import_image(image)
        image.archive.unlink()
    service = ks.make_variable("IMAGE")
    archive = images / "service.tar"
    podman("save", "--quiet", "--format", "oci-archive", "--output", str(archive), f"localhost/{service}")
    node.import_image(Image(f"localhost/{service}", archive))
    archive.unlink()
    node.ctr("images", "tag", "--force", f"localhost/{service}", SERVICE_IMAGE_ALIAS.format(image=service))
    node.timings["images imported (s)"] = time.monotonic() - started
    return {
        "image.repository": "localhost/minio",
        "image.tag": MINIO_VERSION,
        "mcImage.repository": "localhost/mc",
        "mcImage.tag": MC_VERSION,
    }


def local_volumes(plane: ControlPlane, root: Path, count: int, size: str) -> list[str]:
    """hostPath PersistentVolumes of no storage class (what the chart's claims bind to without a default class)."""
    names = []
    for index in range(count):
        path = root / f"volume-{index}"
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)  # as local-path provisioners make them: the pod's uid writes
        name = f"drm-local-{index}-{secrets.token_hex(3)}"
        plane.kubectl(
            "apply",
            "-f",
            "-",
            input=(
                "apiVersion: v1\nkind: PersistentVolume\n"
                f"metadata: {{name: {name}}}\n"
                f"spec: {{capacity: {{storage: {size}}}, accessModes: [ReadWriteOnce], "
                f'storageClassName: "", persistentVolumeReclaimPolicy: Delete, '
                f"hostPath: {{path: {path}, type: Directory}}}}\n"
            ),
        )
        names.append(name)
    return names


def api_inputs() -> list[DiabetesRiskModelInput]:
    import random

    rng = random.Random(11)
    return [
        DiabetesRiskModelInput.model_validate(
            {"body_mass_index": 32, "general_health": "FAIR", "age": "SIXTY_TO_SIXTY_FOUR", "income": "LESS_THAN_10K"}
        ),
        DiabetesRiskModelInput(),
    ] + [
        DiabetesRiskModelInput(
            body_mass_index=rng.randint(15, 60),
            general_health=rng.choice(list(GeneralHealth)),
            age=rng.choice(list(Age)),
            income=rng.choice(list(Income)),
        )
        for _ in range(30)
    ]


@dataclass
class Release:
    """A signed package and what its model answers for each of ``api_inputs()``."""

    package: Path
    sha256: str
    sequence: int
    parameters_version: str
    answers: list[str]
    model: Any = field(repr=False)


@dataclass
class Operator:
    """Keys, credentials and packages outside the repository; ``make()`` runs a target against the test node."""

    plane: ControlPlane
    home: Path
    chart_values: dict[str, str]
    keyring: Keyring = field(default_factory=lambda: Keyring([Key.generate("kube-node-test", "ecdsa-p256")]))
    root_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    service_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    def __post_init__(self) -> None:
        self.public = self.keyring.public().save(self.home / "keys" / "public-keyring.json")
        nested: dict[str, dict[str, str]] = {}
        for key, value in self.chart_values.items():
            outer, inner = key.split(".")
            nested.setdefault(outer, {})[inner] = value
        self.extra_values = self.home / "minio-images.yaml"
        self.extra_values.write_text(yaml.safe_dump(nested))

    @property
    def env(self) -> dict[str, str]:
        env = self.plane.env()
        env.update(
            MINIO_ROOT_USER="drm-admin",
            MINIO_ROOT_PASSWORD=self.root_password,
            MINIO_SECRET_KEY=self.service_password,
            MODEL_PUBLIC_KEYRING=str(self.public),
            PYTHON=sys.executable,
            MINIO_LOCAL_PORT=str(free_port()),
            MINIO_EXTRA_VALUES=str(self.extra_values),
            KUBE_ROLLOUT_TIMEOUT="300s",
        )
        return env

    def make(self, target: str, **variables: str) -> subprocess.CompletedProcess[str]:
        command = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
        return subprocess.run(
            command, capture_output=True, text=True, cwd=ks.REPO, env=self.env, timeout=420, check=False
        )

    def release(self, pipeline: Any, parameters_version: str, sequence: int, keyring: Keyring | None = None) -> Release:
        directory = self.home / f"release-{parameters_version}-{secrets.token_hex(3)}"
        directory.mkdir(parents=True)
        model = directory / "model.pkl"
        model.write_bytes(pickle.dumps(pipeline, protocol=pickle.HIGHEST_PROTOCOL))
        ring = keyring or self.keyring
        package = build_package(
            directory / "out",
            name="diabetes_risk_model",
            version=diabetes_risk_model.__version__,
            parameters_version=parameters_version,
            model_pickle=model,
            extra_members={},
            keyring=ring,
            sequence=sequence,
        )
        manifest = verify_package(package, ring.public(), capture_model=False).manifest
        answers = [DiabetesRisk.map(float(y)).value for y in pipeline.predict(pipeline_frame(api_inputs()))]
        return Release(package, sha256_file(package), manifest.sequence, parameters_version, answers, pipeline)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
