"""A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager v1.33.13) for tests/kube.

Started once per test run on 127.0.0.1 in a temp dir and stopped at the end. Missing binaries are a failure
naming the build script, never a skip: CI builds them (make control-plane).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.kube.control_plane import ControlPlane, ControlPlaneError

# Namespaces that belong to the cluster itself; everything else is removed after each test.
SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    try:
        plane.start()
    except ControlPlaneError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield plane
    finally:
        plane.stop()


def _namespaces(plane: ControlPlane) -> set[str]:
    listed = json.loads(plane.kubectl("get", "namespaces", "-o", "json").stdout)
    return {item["metadata"]["name"] for item in listed["items"]}


@pytest.fixture
def cluster(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    """The shared control plane, with every namespace a test made deleted (and gone) afterwards."""
    yield control_plane
    leftovers = sorted(_namespaces(control_plane) - SYSTEM_NAMESPACES)
    if leftovers:
        control_plane.kubectl("delete", "namespace", *leftovers, "--wait=false")
        deadline = time.monotonic() + 180
        while _namespaces(control_plane) & set(leftovers):
            assert time.monotonic() < deadline, f"namespaces {leftovers} were not deleted within 180 s"
            time.sleep(1)
