"""The guards of ``tests.support.netns`` and ``cluster_host``: no path to the machine's address."""

from __future__ import annotations

import pytest

from diabetes_risk_model.errors import ConfigurationError
from tests.support import minio_cluster, netns


def test_the_namespace_address_must_be_in_the_benchmarking_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(netns.PARENT_ENV, "net:[1]")  # any namespace other than this one
    for address in ("10.0.0.5", "192.0.2.2", "127.0.0.1", "0.0.0.0", "::1", "not-an-address"):
        monkeypatch.setenv(netns.HOST_ENV, address)
        with pytest.raises(ConfigurationError, match=r"198\.18\.0\.0/15"):
            netns.namespace_host()
        with pytest.raises(ConfigurationError, match=r"198\.18\.0\.0/15"):
            netns.namespace_env(address)
    monkeypatch.setenv(netns.HOST_ENV, "198.18.0.1")
    assert netns.namespace_host() == "198.18.0.1"


def test_the_namespace_address_is_refused_outside_a_namespace_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    env = netns.namespace_env(base={})  # as the wrapper sets it: this process's namespace is the parent
    assert env[netns.PARENT_ENV] == netns.current_namespace()
    monkeypatch.setenv(netns.HOST_ENV, env[netns.HOST_ENV])
    monkeypatch.setenv(netns.PARENT_ENV, env[netns.PARENT_ENV])
    with pytest.raises(ConfigurationError, match="not inside a network namespace"):
        netns.namespace_host()
    monkeypatch.delenv(netns.PARENT_ENV)
    with pytest.raises(ConfigurationError, match="not inside a network namespace"):
        netns.namespace_host()


def test_in_a_container_the_cluster_host_is_never_found_outside_a_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(netns.HOST_ENV, raising=False)
    monkeypatch.setattr(minio_cluster, "minio_sees_a_container", lambda: True)
    with pytest.raises(ConfigurationError, match="network namespace"):
        minio_cluster.cluster_host()
    monkeypatch.setattr(minio_cluster, "minio_sees_a_container", lambda: False)
    assert minio_cluster.cluster_host() == "127.0.0.1"


def test_the_namespace_command_sets_up_lo_and_one_test_interface_then_execs() -> None:
    command = netns.in_namespace_command(["python", "-m", "pytest", "a b"])
    assert command[:3] == ["unshare", "--net", "--"]
    assert command[-4:] == ["python", "-m", "pytest", "a b"]  # passed as arguments, never through the shell text
    script = command[5]
    assert "ip link set lo up" in script and 'ip addr add "$DRM_NETNS_HOST/32" dev drm0' in script
    assert script.endswith('exec "$@"')
