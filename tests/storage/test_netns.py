"""The guards of ``tests.support.netns`` and ``cluster_host``: no test server on, or reached at, the machine's
own addresses."""

from __future__ import annotations

import pytest

from diabetes_risk_model.errors import ConfigurationError
from tests.support import minio_cluster, netns


def test_the_namespace_address_must_be_a_benchmarking_address_inside_a_namespace_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(netns.PARENT_ENV, "net:[1]")  # any namespace other than this one
    for address in ("10.0.0.5", "127.0.0.1", "0.0.0.0", "::1", "not-an-address"):
        monkeypatch.setenv(netns.HOST_ENV, address)
        with pytest.raises(ConfigurationError, match=r"198\.18\.0\.0/15"):
            netns.namespace_host()
    monkeypatch.setenv(netns.HOST_ENV, "198.18.0.1")
    assert netns.namespace_host() == "198.18.0.1"
    monkeypatch.setenv(netns.PARENT_ENV, netns.current_namespace())  # set here, so this is not a new namespace
    with pytest.raises(ConfigurationError, match="not inside a network namespace"):
        netns.namespace_host()


def test_in_a_container_the_cluster_host_is_never_found_outside_a_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(netns.HOST_ENV, raising=False)
    monkeypatch.setattr(minio_cluster, "minio_sees_a_container", lambda: True)
    with pytest.raises(ConfigurationError, match="network namespace"):
        minio_cluster.cluster_host()
    monkeypatch.setattr(minio_cluster, "minio_sees_a_container", lambda: False)
    assert minio_cluster.cluster_host() == "127.0.0.1"
