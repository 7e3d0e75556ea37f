"""Fixtures shared by the unpickling tests (defined in :mod:`tests.support.signing`)."""

from tests.support.signing import (  # noqa: F401 - fixtures
    base_package,
    ed_key,
    hmac_key,
    keyring,
    make_package,
    member_files,
    retired_key,
    verify_ring,
)
