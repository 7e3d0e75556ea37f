"""A network namespace of the test run's own, for servers that may not listen on loopback.

Where MinIO refuses drive URLs that resolve only to loopback (in a container, see ``minio_cluster``), the
distributed deployment, the service under test and every client of it run inside a new network namespace
that the test run creates itself (``unshare --net``, as root). That namespace holds ``lo`` and one interface
``drm0`` (a ``dummy``, or a bridge without ports where the kernel has no dummy driver) with the address
``198.18.0.1/32`` from the RFC 2544 benchmarking range, and no route anywhere else: nothing started in it can
reach, or be reached on, any address of the machine.

A process learns that it runs inside such a namespace from two environment variables set by
:func:`namespace_env`; :func:`namespace_host` refuses them unless the address is in the benchmarking range and
the process is in a different network namespace from the one that set them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence

from diabetes_risk_model.errors import ConfigurationError

#: The address the servers in the namespace listen on and are reached at.
HOST_ENV = "DRM_NETNS_HOST"
#: The network namespace (``/proc/self/ns/net``) of the process that created the namespace.
PARENT_ENV = "DRM_NETNS_PARENT"
TEST_ADDRESS = "198.18.0.1"
TEST_RANGE = ipaddress.ip_network("198.18.0.0/15")  # RFC 2544: for benchmark tests, never routed
INTERFACE = "drm0"

_SETUP = (
    "set -e; ip link set lo up; "
    f"ip link add {INTERFACE} type dummy 2>/dev/null || ip link add {INTERFACE} type bridge; "
    f'ip addr add "$DRM_NETNS_HOST/32" dev {INTERFACE}; ip link set {INTERFACE} up; exec "$@"'
)


def current_namespace() -> str:
    """The identity of this process's network namespace, e.g. ``net:[4026531833]``."""
    return os.readlink("/proc/self/ns/net")


def namespace_env(address: str = TEST_ADDRESS, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for :func:`in_namespace_command`: *base* (default ``os.environ``) plus the address."""
    _check_address(address)
    return {**(os.environ if base is None else base), HOST_ENV: address, PARENT_ENV: current_namespace()}


def in_namespace_command(argv: Sequence[str]) -> list[str]:
    """*argv* run in a new network namespace set up as the module docstring says (run it with :func:`namespace_env`)."""
    return ["unshare", "--net", "--", "sh", "-c", _SETUP, "sh", *argv]


def namespace_host() -> str | None:
    """The test-range address, if this process runs inside a namespace made by :func:`in_namespace_command`."""
    host = os.environ.get(HOST_ENV)
    if not host:
        return None
    _check_address(host)
    if os.environ.get(PARENT_ENV) in (None, "", current_namespace()):
        raise ConfigurationError(f"{HOST_ENV} is set, but this process is not inside a network namespace of its own")
    return host


def _check_address(address: str) -> None:
    try:
        in_range = ipaddress.ip_address(address) in TEST_RANGE
    except ValueError:
        in_range = False
    if not in_range:
        raise ConfigurationError(f"{HOST_ENV} must be an address in {TEST_RANGE} (RFC 2544), not {address!r}")
