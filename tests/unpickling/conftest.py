"""Fixtures shared by the unpickling tests: signing (from :mod:`tests.support.signing`), real rows, forged packages."""

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from diabetes_risk_model.signing import Keyring
from tests.support.forge import signed_model_bytes
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


@pytest.fixture(scope="session")
def rows_file(tmp_path_factory: pytest.TempPathFactory, diabetes_csv: Path) -> Path:
    """Twenty real rows of the training data (without the target), pickled for control runs in a child."""
    from diabetes_risk_model.training.data import TARGET, load_data, rename_columns

    rows = rename_columns(load_data(diabetes_csv)).drop(columns=[TARGET]).sample(20, random_state=1)
    path = tmp_path_factory.mktemp("rows") / "rows.pkl"
    path.write_bytes(pickle.dumps(rows))
    return path


@pytest.fixture
def signed(tmp_path: Path, keyring: Keyring, verify_ring: Keyring) -> Callable[[bytes], bytes]:  # noqa: F811
    """Sign forged pickle bytes with a valid (leaked) key and return what verification hands the loader."""
    return lambda data: signed_model_bytes(data, tmp_path / "package", keyring, verify_ring)
