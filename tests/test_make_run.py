"""`make run` as a newcomer without Go runs it, in a fresh copy of the repository, then `make stop`.

One test on purpose (it trains the real fast model once, which takes minutes), checking:

- without Go on PATH and without a MinIO binary, `make run` skips the MinIO build and serves from the local
  directory store, as the README says;
- publishing prints `published <object> sequence=<n> sha256=<hex>`, and the service it starts is pinned to
  exactly that package (MODEL_PACKAGE_SHA256, MODEL_MIN_SEQUENCE in its environment);
- the fast model it serves selected the API's four inputs, and `general_health` alone changes at least one
  answer over the API's whole input space;
- its closing line lists only pages the running service answers 200 on;
- `make stop` stops it, and `git status` is clean afterwards: everything `make run` wrote is git-ignored.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.prediction.schemas import BMI_MAX, BMI_MIN, Age, GeneralHealth, Income
from diabetes_risk_model.signing import Keyring, verify_package
from diabetes_risk_model.training.data import RENAMED_COLUMNS
from diabetes_risk_model.training.params import TARGET
from diabetes_risk_model.unpickling import restricted_loads

REPO = Path(__file__).resolve().parents[1]
API_FEATURES = ["BMI", "GeneralHealth", "Age", "Income"]
PUBLISHED = re.compile(
    r"^published (?P<object>\S+\.zip) sequence=(?P<sequence>\d+) sha256=(?P<sha256>[0-9a-f]{64})$", re.MULTILINE
)
OLD = 946_684_800  # 2000-01-01: older than the shared venv's install stamp, so `make install` has nothing to do


def _copy_of_the_work_tree(destination: Path) -> Path:
    """The repository's files as they are now (tracked and new, not ignored), committed in a fresh repository."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for name in ("requirements.txt", "requirements-dev.txt", "pyproject.toml"):
        os.utime(destination / name, (OLD, OLD))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-C", str(destination)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], check=True)
    # The installed venv, as after `make install`. It is a symlink here, which .gitignore's `.venv/` (a directory
    # pattern) does not match, so it is excluded locally; a real `make install` makes a directory.
    (destination / ".venv").symlink_to((REPO / ".venv").resolve())
    with (destination / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("/.venv\n")
    return destination


def _path_without_go() -> str:
    """PATH minus every directory holding a `go` or `minio` executable."""
    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any(shutil.which(tool, path=d) for tool in ("go", "minio"))]  # fmt: skip
    return os.pathsep.join(kept)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def input_space() -> pd.DataFrame:
    """Every request the API accepts, as the pipeline sees it: 47 BMI values x 6 x 14 x 9 (None = missing)."""
    values = {
        "BMI": [None, *range(BMI_MIN, BMI_MAX + 1)],
        "GeneralHealth": [None, *(member.map() for member in GeneralHealth)],
        "Age": [None, *(member.map() for member in Age)],
        "Income": [None, *(member.map() for member in Income)],
    }
    rows = list(itertools.product(*values.values()))
    columns = [name for name in RENAMED_COLUMNS if name != TARGET]
    frame = pd.DataFrame(np.nan, index=range(len(rows)), columns=columns, dtype=np.float64)
    frame[API_FEATURES] = np.array(rows, dtype=np.float64)  # None becomes NaN
    return frame


def answers_changed_by_general_health(model: object) -> int:
    """How many (BMI, Age, Income) combinations get different answers for different general_health values."""
    frame = input_space()
    answers = pd.Series(np.asarray(model.predict(frame)), index=frame.index, name="answer")  # type: ignore[attr-defined]
    others = ["BMI", "Age", "Income"]
    keys = frame[others].fillna(-1)  # missing is a value of its own
    spread = pd.concat([keys, answers], axis=1).groupby(others)["answer"].nunique()
    return int((spread > 1).sum())


@pytest.mark.slow
def test_make_run_without_go_then_make_stop_leaves_git_clean(diabetes_csv: Path, tmp_path: Path) -> None:
    repo = _copy_of_the_work_tree(tmp_path / "repo")
    home = tmp_path / "home"  # no ~/.kaggle, no caches of the developer's
    home.mkdir()
    port = _free_port()
    path = _path_without_go()
    assert shutil.which("go", path=path) is None and shutil.which("make", path=path)
    env = {
        "PATH": path,
        "HOME": str(home),
        "DRM_TOOLS": str(tmp_path / "no-tools"),  # no cached MinIO binary either
        "DIABETES_DATA": str(diabetes_csv),
        "SERVICE_PORT": str(port),
        "PYTHONPATH": str(repo),
        "MPLBACKEND": "Agg",
        "PYCARET_CUSTOM_LOGGING_PATH": str(tmp_path / "pycaret.log"),
    }
    pids: list[int] = []
    try:
        started = time.monotonic()
        run = subprocess.run(["make", "run"], cwd=repo, env=env, capture_output=True, text=True, timeout=1500)
        took = time.monotonic() - started
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-4000:]
        pids = [int(line) for line in (repo / ".run" / "pids").read_text().split()]
        print(f"make run (no Go, directory store): {took:.0f} s")

        # No MinIO: the build was skipped, the directory store used, and only the service started.
        assert "skipping the MinIO build" in output and "minio: cannot build" not in output
        assert "using the local directory store" in output
        assert len(pids) == 1 and not (repo / ".run" / "minio.env").exists()
        # Its output is a log (not a terminal): no progress-bar redraws from sweetviz, pycaret or the upload.
        assert "\r" not in output
        assert "sweetviz: analysing 70692 rows" in output

        # Published once, with the pin the service was started with.
        published = [m.groupdict() for m in PUBLISHED.finditer(run.stdout)]
        assert len(published) == 1, run.stdout[-3000:]
        package = repo / "artifacts" / published[0]["object"]
        stored = repo / ".run" / "store" / "model-files" / published[0]["object"]
        assert sha256_file(package) == sha256_file(stored) == published[0]["sha256"]
        service_env = _environ(pids[0])
        assert service_env["MODEL_PACKAGE_SHA256"] == published[0]["sha256"]
        assert service_env["MODEL_MIN_SEQUENCE"] == published[0]["sequence"]
        assert "PARAMETERS_SIGNING_KEY" not in service_env
        assert '"diabetes_risk"' in run.stdout  # the one prediction's answer was printed
        closing = re.search(rf"is running at http://127\.0\.0\.1:{port} \((?P<pages>[^)]*)\)", run.stdout)
        assert closing is not None, run.stdout[-1000:]
        pages = closing["pages"].split(", ")
        assert f"http://127.0.0.1:{port}/docs" in pages
        for page in pages:
            with urllib.request.urlopen(page, timeout=10) as response:
                assert response.status == 200, page

        # The fast model uses the API's four inputs, and general_health matters.
        public = Keyring.load(repo / ".keys" / "public_keyring.json")
        verified = verify_package(package, public)
        assert verified.manifest.sequence == int(published[0]["sequence"])
        with zipfile.ZipFile(package) as archive:
            metrics = json.loads(archive.read("metrics.json"))
        assert metrics["mode"] == "fast"
        assert sorted(metrics["selected_features"]) == sorted(API_FEATURES)
        changed = answers_changed_by_general_health(restricted_loads(verified.model_bytes))
        print(
            f"fast model: features {metrics['selected_features']}, CV F1 (tuned) {metrics['tune_cv']['F1']['mean']}"
            f", {changed} (BMI, Age, Income) combinations answered differently by general_health"
        )
        assert changed >= 1

        # make stop stops the service; nothing make run wrote shows in git status.
        stop = subprocess.run(["make", "stop"], cwd=repo, env=env, capture_output=True, text=True, timeout=60)
        assert stop.returncode == 0, stop.stderr
        assert f"stopped {pids[0]}" in stop.stdout
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Path(f"/proc/{pids[0]}").exists():
            time.sleep(0.2)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/ready", timeout=2)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo,
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert status == ""
        assert (repo / ".keys" / "signing_keyring.json").is_file()  # it did write, where git ignores it
    finally:  # whatever failed, stop what make run started
        pid_file = repo / ".run" / "pids"
        for pid in pids or ([int(line) for line in pid_file.read_text().split()] if pid_file.is_file() else []):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGTERM)
