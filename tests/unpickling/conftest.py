"""Fixtures shared by the unpickling tests (defined in :mod:`tests.support.signing`)."""

from tests.support.signing import (  # noqa: F401 - fixtures
    base_package,
    keyring,
    make_package,
    member_files,
    new_key,
    other_key,
    retired_key,
    verify_ring,
)
