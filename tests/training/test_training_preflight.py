"""Every documented way to get data and keys works, and long commands check what they need before starting.

- Kaggle: with credentials and no local CSV the dataset is downloaded with the `kaggle` package (stubbed here at
  its boundary, `kaggle.api.kaggle_api_extended.KaggleApi`; no network), and the Makefile does not force `--data`.
- Neither credentials nor a CSV: one line naming both options, non-zero exit.
- `make reproduce` finds the development keyring `make run` left in .keys/, and checks data, key, store and the
  notebook's tools in seconds, before papermill starts.
- `make test PYTEST_ARGS=tests/signing` builds neither MinIO nor the deployment tools.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from diabetes_risk_model.errors import DataNotFound
from diabetes_risk_model.signing import Key, Keyring
from diabetes_risk_model.training import FAST
from diabetes_risk_model.training.data import DATA_FILE_NAME, KAGGLE_DATASET, check_data_source, locate_data
from diabetes_risk_model.training.preflight import problems
from diabetes_risk_model.training.run import prepare_data

REPO = Path(__file__).resolve().parents[2]


class _StubKaggleApi:
    """Stands in for kaggle's KaggleApi: records the calls and 'downloads' by writing the CSV it was given."""

    calls: ClassVar[list[tuple[str, Any]]] = []
    source: ClassVar[Path | None] = None
    fail: ClassVar[bool] = False

    def authenticate(self) -> None:
        self.calls.append(("authenticate", None))

    def dataset_download_files(self, dataset: str, path: str | None = None, unzip: bool = False,
                               quiet: bool = True, **_: Any) -> None:  # fmt: skip
        self.calls.append(("download", (dataset, path, unzip)))
        if self.fail:
            raise Exception("403 Forbidden")  # the client raises bare Exceptions
        assert self.source is not None
        Path(path or ".").joinpath(DATA_FILE_NAME).write_bytes(self.source.read_bytes())


@pytest.fixture
def stub_kaggle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, diabetes_csv: Path) -> type[_StubKaggleApi]:
    """Replace the kaggle client's modules (importing the real one would authenticate against ~/.kaggle)."""
    head = tmp_path / "head.csv"
    pd.read_csv(diabetes_csv, nrows=400).to_csv(head, index=False)
    stub = type("KaggleApi", (_StubKaggleApi,), {"calls": [], "source": head, "fail": False})
    extended = types.ModuleType("kaggle.api.kaggle_api_extended")
    extended.KaggleApi = stub  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kaggle", types.ModuleType("kaggle"))
    monkeypatch.setitem(sys.modules, "kaggle.api", types.ModuleType("kaggle.api"))
    monkeypatch.setitem(sys.modules, "kaggle.api.kaggle_api_extended", extended)
    return stub


def test_the_stub_matches_the_real_kaggle_client() -> None:
    """The stub is only worth something while the real client has the calls data.py makes (read, not imported)."""
    spec = importlib.util.find_spec("kaggle")
    assert spec is not None and spec.origin is not None
    source = (Path(spec.origin).parent / "api" / "kaggle_api_extended.py").read_text()
    assert "class KaggleApi" in source and "def authenticate(self" in source
    signature = source[source.index("def dataset_download_files(") :].split(")", 1)[0]
    for parameter in ("dataset", "path", "unzip", "quiet"):
        assert parameter in signature


def test_kaggle_download_when_credentials_and_no_csv(stub_kaggle: type[_StubKaggleApi], tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "KAGGLE_USERNAME": "someone", "KAGGLE_KEY": "not-a-real-key"}
    default = tmp_path / "data" / DATA_FILE_NAME
    assert check_data_source(None, env, default) == f"Kaggle ({KAGGLE_DATASET})"  # the pre-check downloads nothing
    assert stub_kaggle.calls == []
    path = locate_data(None, environ=env, default=default)
    assert path == default and path.is_file()
    assert stub_kaggle.calls == [("authenticate", None), ("download", (KAGGLE_DATASET, str(default.parent), True))]


def test_training_reads_the_downloaded_csv(
    stub_kaggle: type[_StubKaggleApi], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # data/ is relative to the working directory, as in the repository
    for name in ("DIABETES_DATA", "KAGGLE_CONFIG_DIR", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "not-a-real-key")
    prepared = prepare_data(FAST)
    assert prepared.path == Path("data") / DATA_FILE_NAME
    assert len(prepared.full) == 400 and "GeneralHealth" in prepared.full.columns


def test_a_failed_kaggle_download_is_one_line(stub_kaggle: type[_StubKaggleApi], tmp_path: Path) -> None:
    stub_kaggle.fail = True
    env = {"HOME": str(tmp_path), "KAGGLE_USERNAME": "someone", "KAGGLE_KEY": "not-a-real-key"}
    with pytest.raises(DataNotFound) as caught:
        locate_data(None, environ=env, default=tmp_path / "data" / DATA_FILE_NAME)
    assert "Kaggle failed" in str(caught.value) and "DIABETES_DATA" in str(caught.value)
    assert "\n" not in str(caught.value)


def _make(*args: str, env: dict[str, str], cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": env.get("HOME", os.environ.get("HOME", "/"))}
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env={**base, **env},
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_makefile_does_not_force_data_when_diabetes_data_is_unset(tmp_path: Path) -> None:
    dry = _make("-n", "train", "train-fast", env={"HOME": str(tmp_path)})
    assert dry.returncode == 0, dry.stderr
    assert "diabetes_risk_model.training" in dry.stdout and "--data" not in dry.stdout
    forced = _make("-n", "train", env={"HOME": str(tmp_path), "DIABETES_DATA": "/elsewhere/x.csv"})
    assert "--data" not in forced.stdout  # the CSV reaches training through the environment only
    run_local = (REPO / "scripts" / "run_local.py").read_text()
    assert '"--data"' not in run_local


def test_make_run_without_data_stops_at_once_and_leaves_no_build_running(tmp_path: Path) -> None:
    """`make run` starts the MinIO build (minutes from cold) in the background; no data stops it with one line."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    started = tmp_path / "go.pid"
    # A stand-in for the Go toolchain: `go install` records its pid and then "compiles" for a minute.
    (fake_bin / "go").write_text(
        '#!/bin/sh\nif [ "$1" = version ]; then echo "go version go0.0 x"; exit 0; fi\n'
        f"echo $$ > {started}.tmp && mv {started}.tmp {started}\nexec sleep 60\n"
    )
    (fake_bin / "go").chmod(0o755)
    data = tmp_path / "absent.csv"
    env = {"PATH": f"{fake_bin}:{os.environ.get('PATH', '')}", "HOME": str(tmp_path), "MAKE": "true",
           "PYTHON": sys.executable, "KEYS_DIR": str(tmp_path / "keys"), "DRM_TOOLS": str(tmp_path / "tools"),
           "MINIO_BIN": str(tmp_path / "tools" / "bin" / "minio"), "DIABETES_DATA": str(data)}  # fmt: skip
    result = subprocess.run(["bash", "scripts/make_run.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: training data not found at {data} (from $DIABETES_DATA)"]
    assert "building MinIO in the background" in result.stdout  # the build was under way when the check failed
    deadline = time.monotonic() + 10
    # Either `go install` had started and was stopped, or the build was stopped before it could start it.
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    while started.exists() and _alive(int(started.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (started.exists() and _alive(int(started.read_text()))), "the MinIO build outlived the failed run"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_neither_csv_nor_kaggle_is_one_line_and_non_zero(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "diabetes_risk_model.training.preflight", "--no-package"],
        cwd=tmp_path,  # no data/ here
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no training data")
    assert "DIABETES_DATA" in lines[0] and "Kaggle" in lines[0] and "kaggle.json" in lines[0]


def test_preflight_names_every_missing_piece_at_once(tmp_path: Path, diabetes_csv: Path) -> None:
    public = tmp_path / "public.json"
    Keyring([Key.generate("k1", "ecdsa-p256")]).public().save(public)
    env = {"HOME": str(tmp_path), "DIABETES_DATA": str(diabetes_csv)}
    assert problems(environ=env, upload=False) == [
        "signing key: environment variable MODEL_KEYRING is not set (no signing/verification keys)"
    ]
    found = problems(environ={**env, "MODEL_KEYRING": str(public)}, notebook=tmp_path / "absent.ipynb")
    assert found[2] == f"notebook {tmp_path / 'absent.ipynb'} not found" and len(found) == 3
    assert "public keys only" in found[0] and "MINIO_URL" in found[1]
    private = tmp_path / "private.json"
    Keyring([Key.generate("k2", "ecdsa-p256")]).save(private)
    notebook = REPO / "notebooks" / "diabetes_risk_model_training.ipynb"
    assert problems(environ={**env, "MODEL_KEYRING": str(private)}, upload=False, notebook=notebook) == []


def _dev_keys(directory: Path) -> Path:
    """What `make run`/`make keygen` leave in .keys/: a private ring and its public half."""
    directory.mkdir(parents=True)
    ring = Keyring([Key.generate("dev-test", "ecdsa-p256")])
    ring.save(directory / "signing_keyring.json")
    ring.public().save(directory / "public_keyring.json")
    return directory


def test_make_reproduce_uses_the_development_keyring_and_fails_in_seconds(tmp_path: Path) -> None:
    keys = _dev_keys(tmp_path / "keys")
    env = {"HOME": str(tmp_path), "DIABETES_DATA": str(tmp_path / "absent.csv")}
    started = time.monotonic()
    result = _make("reproduce", f"KEYS_DIR={keys}", f"NOTEBOOK_OUTPUT={tmp_path / 'out'}", env=env)
    took = time.monotonic() - started
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: training data not found at {tmp_path / 'absent.csv'} (from $DIABETES_DATA)"]
    assert "papermill" not in result.stdout + result.stderr and not (tmp_path / "out").exists()
    print(f"make reproduce refused in {took:.1f} s")
    no_keys = _make("reproduce", f"KEYS_DIR={tmp_path / 'none'}", f"NOTEBOOK_OUTPUT={tmp_path / 'out'}", env=env)
    assert "error: signing key: environment variable MODEL_KEYRING is not set" in no_keys.stderr


def test_make_reproduce_with_only_model_keyring_passes_the_checks(tmp_path: Path, diabetes_csv: Path) -> None:
    keys = _dev_keys(tmp_path / "keys")
    ring = keys / "signing_keyring.json"
    env = {"HOME": str(tmp_path), "DIABETES_DATA": str(diabetes_csv), "MODEL_KEYRING": str(ring)}
    dry = _make("-n", "reproduce", f"KEYS_DIR={tmp_path / 'none'}", env=env)
    preflight = next(line for line in dry.stdout.splitlines() if "training.preflight" in line)
    result = subprocess.run(["bash", "-c", preflight], cwd=REPO, env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    # The notebook no longer needs PARAMETERS_SIGNING_KEY: its itsdangerous demonstration uses a throwaway key.
    notebook = (REPO / "notebooks" / "diabetes_risk_model_training.ipynb").read_text()
    assert "signing_key_from_env" not in notebook and "secrets.token_hex(32)" in notebook


@pytest.mark.parametrize(
    ("pytest_args", "builds"),
    [
        ("tests/signing", set()),
        ("tests/signing -x -q", set()),
        ("tests/test_hygiene.py", set()),
        ("tests/storage", {"minio"}),
        ("tests/deploy", {"minio", "deploy-tools"}),
        ("", {"minio", "deploy-tools"}),
        ("-k verify", {"minio", "deploy-tools"}),
    ],
)
def test_make_test_builds_only_the_tools_the_selected_tests_use(
    pytest_args: str, builds: set[str], tmp_path: Path
) -> None:
    dry = _make("-n", "test", f"PYTEST_ARGS={pytest_args}", env={"HOME": str(tmp_path)})
    assert dry.returncode == 0, dry.stderr
    scripts = {"minio": "scripts/build_minio.sh", "deploy-tools": "scripts/install_deploy_tools.sh"}
    assert {tool for tool, script in scripts.items() if script in dry.stdout} == builds
