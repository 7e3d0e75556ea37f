"""Shared signing test material: keys made per session, a small synthetic package, the compat vector.

The fixtures are imported by the ``conftest.py`` of each test directory that uses them.
"""

from __future__ import annotations

import pickle
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from diabetes_risk_model.signing import Key, Keyring, build_package

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
COMPAT_ZIP = SHARED / "compat" / "diabetes_risk_model-0.1.0-2023_03_17.zip"
NAME, VERSION, PV = "diabetes_risk_model", "0.1.0", "2026_11_22"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def compat_key() -> str:
    """The compat vector's published key, read from ../shared/README.md at test time (never copied here)."""
    match = re.search(r"Signing key published with it: `([^`]+)`", (SHARED / "README.md").read_text())
    assert match, "compat key not found in ../shared/README.md"
    return match.group(1)


@pytest.fixture(scope="session")
def ed_key() -> Key:
    return Key.generate("ed-2026", "ed25519", created=CREATED)


@pytest.fixture(scope="session")
def hmac_key() -> Key:
    return Key.generate("hmac-2026", "hmac-sha256", created=datetime(2025, 6, 1, tzinfo=UTC))


@pytest.fixture(scope="session")
def retired_key() -> Key:
    return Key.generate("old-2024", "ed25519", created=datetime(2024, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="session")
def keyring(ed_key: Key, hmac_key: Key, retired_key: Key) -> Keyring:
    """Signing keyring: newest key is ed-2026."""
    return Keyring([retired_key, hmac_key, ed_key])


@pytest.fixture(scope="session")
def verify_ring(keyring: Keyring) -> Keyring:
    """What a service holds: public keys only, old-2024 retired."""
    return keyring.retire("old-2024").public()


@pytest.fixture(scope="session")
def member_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small synthetic members: a pickle, an html report (deflated), json metrics, two png plots (stored)."""
    root = tmp_path_factory.mktemp("members")
    files = {
        "model.pkl": pickle.dumps({"weights": list(range(300)), "bias": 0.5}, protocol=5),
        "data_report.html": b"<html><body>" + b"<p>profile row</p>" * 200 + b"</body></html>",
        "metrics.json": b'{"auc": 0.82, "f1": 0.75}',
        "plots/auc.png": random.Random(1).randbytes(700),
        "plots/confusion_matrix.png": random.Random(2).randbytes(500),
    }
    paths = {}
    for name, data in files.items():
        path = root / name.replace("/", "_")
        path.write_bytes(data)
        paths[name] = path
    return paths


@pytest.fixture(scope="session")
def make_package(
    tmp_path_factory: pytest.TempPathFactory, member_files: dict[str, Path], keyring: Keyring
) -> Callable[..., Path]:
    """Build a package with the session's members; keyword arguments override build_package's."""

    def make(**overrides: object) -> Path:
        kwargs: dict[str, object] = {
            "name": NAME,
            "version": VERSION,
            "parameters_version": PV,
            "model_pickle": member_files["model.pkl"],
            "extra_members": {k: v for k, v in member_files.items() if k != "model.pkl"},
            "keyring": keyring,
            "sequence": 100,
            "requirements": {"python": "3.11", "scikit-learn": "1.4.2"},
        }
        kwargs.update(overrides)
        out = kwargs.pop("output_dir", None) or tmp_path_factory.mktemp("pkg")
        return build_package(Path(str(out)), **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def base_package(make_package: Callable[..., Path]) -> Path:
    return make_package()
