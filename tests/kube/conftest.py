"""A real Kubernetes cluster for tests/kube: the control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler v1.33.13) and one node (containerd, the kubelet, CoreDNS).

Started once per test run on 127.0.0.1 in temp dirs and stopped at the end, when the machine is checked for
anything the node left behind (links, routes, iptables rules, kernel settings, mounts, network namespaces,
processes, cgroups): a leak fails the run. Missing binaries are a failure naming the build script, never a skip:
CI builds them (make control-plane).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.kube.control_plane import ControlPlane, ControlPlaneError
from tests.kube.node import HostState, Node
from tests.kube.operator_rig import import_images

# Namespaces that belong to the cluster itself; everything else is removed after each test.
SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """The control plane and its node, Ready; afterwards both stopped and the machine as it was before."""
    before = HostState.read()
    plane = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    member = Node(tmp_path_factory.mktemp("drm-node"), plane)
    try:
        plane.start()
        member.start()
    except ControlPlaneError as exc:
        plane.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield member
    finally:
        member.stop()
        plane.stop()
        leaks = before.differences(HostState.read())
        assert not leaks, "the test node changed the machine:\n" + "\n".join(leaks)


@pytest.fixture(scope="session")
def control_plane(node: Node) -> ControlPlane:
    return node.plane


@pytest.fixture(scope="session")
def node_images(node: Node) -> dict[str, str]:
    """The service, MinIO and mc images imported into the node; the MinIO chart's values naming them."""
    return import_images(node)


@pytest.fixture
def cluster_with_images(cluster: ControlPlane, node_images: dict[str, str]) -> ControlPlane:
    return cluster


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
