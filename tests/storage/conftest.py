"""Where the distributed MinIO tests run: directly, or inside a network namespace of the run's own.

MinIO refuses loopback drive URLs where it sees a container (``tests.support.minio_cluster``).
There ``test_distributed_minio_netns.py`` runs ``test_distributed_minio.py`` in a new pytest inside a network
namespace it creates (``tests.support.netns``), and the outer run deselects the module's tests;
elsewhere the outer run deselects that wrapper. Either way each distributed test runs exactly once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.minio_cluster import minio_sees_a_container
from tests.support.netns import namespace_host

DISTRIBUTED = Path(__file__).with_name("test_distributed_minio.py")
IN_NAMESPACE = Path(__file__).with_name("test_distributed_minio_netns.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if namespace_host() is not None:
        elsewhere = IN_NAMESPACE  # already inside: never nest another namespace
    elif minio_sees_a_container():
        elsewhere = DISTRIBUTED  # run by the wrapper, inside its namespace
    else:
        elsewhere = IN_NAMESPACE  # 127.0.0.1 works: run directly
    deselected = [item for item in items if item.path == elsewhere]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item.path != elsewhere]
