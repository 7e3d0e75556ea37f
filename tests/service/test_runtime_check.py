"""The service image leaves out what pycaret declares but the service never imports (service_requirements.prune).

These tests simulate that image in a subprocess of the development environment: every top-level module of a
pruned distribution is made unimportable, then the runtime check runs, and a real signed package of a real
pycaret pipeline is verified, unpickled and asked for predictions, which must equal the pipeline's own.
Blocking one package the service does need must make the check fail with one line naming it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from diabetes_risk_model.prediction.schemas import Age, DiabetesRiskModelInput, GeneralHealth, Income
from tests.support.inputs import pipeline_frame
from tests.support.packages import Artifacts
from tests.support.pruned import pruned

REPO = Path(__file__).resolve().parents[2]

# Installed into the subprocess before anything else: a finder that refuses the given top-level modules,
# the way a missing distribution would.
BLOCKER = """
import importlib.abc, importlib.metadata as md, json, re, sys
blocked_dists = set(json.loads(sys.argv[1]))
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
blocked = {top for top, dists in md.packages_distributions().items() if {norm(d) for d in dists} & blocked_dists}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None
sys.meta_path.insert(0, Block())
"""


def run_blocked(blocked: list[str], code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + code, json.dumps(blocked), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_prune_list_is_not_empty_and_names_no_package_of_the_service_lock() -> None:
    names = pruned()
    assert len(names) >= 50, "the prune list is what keeps the image small"
    lock = (REPO / "service_requirements.txt").read_text()
    pinned = {re.sub(r"[-_.]+", "-", m).lower() for m in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock, re.M)}
    assert not set(names) & pinned, "a pruned package is still in the service lock: run `make lock`"


def test_the_runtime_check_passes_without_the_pruned_packages() -> None:
    done = run_blocked(pruned(), "from diabetes_risk_model.service.runtime_check import main; sys.exit(main())")
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.fullmatch(r"runtime-check: ok \(\d+ service modules, \d+ pickle names\)\n", done.stdout)


def test_blocking_a_package_the_service_needs_fails_the_check_in_one_line() -> None:
    done = run_blocked(["lightgbm"], "from diabetes_risk_model.service.runtime_check import main; sys.exit(main())")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("runtime-check: error: cannot import lightgbm")


PREDICT = """
import pandas as pd
from pathlib import Path
from diabetes_risk_model.signing import Keyring, verify_package
from diabetes_risk_model.unpickling import restricted_loads
verified = verify_package(Path(sys.argv[2]), Keyring.load(Path(sys.argv[3])))
pipeline = restricted_loads(verified.model_bytes)
frame = pd.read_json(sys.argv[4], orient="split")
print(json.dumps([int(v) for v in pipeline.predict(frame)]))
print(sorted(m for m in sys.modules if m.split(".")[0] in {"plotly", "numba", "statsmodels", "sktime", "IPython"}))
"""


def test_a_real_package_verifies_loads_and_predicts_without_the_pruned_packages(artifacts: Artifacts) -> None:
    frame = pipeline_frame(
        [
            DiabetesRiskModelInput(
                body_mass_index=bmi,
                general_health=list(GeneralHealth)[health - 1],
                age=list(Age)[age - 1],
                income=list(Income)[income - 1],
            )
            for bmi, health, age, income in [(22, 1, 2, 8), (31, 3, 8, 4), (45, 5, 13, 1), (27, 2, 10, 6)]
        ]
    )
    expected = [int(v) for v in artifacts.pipeline.predict(frame)]
    done = run_blocked(
        pruned(), PREDICT, str(artifacts.package), str(artifacts.keyring_file), frame.to_json(orient="split")
    )
    assert done.returncode == 0, done.stderr[-3000:]
    predicted, loaded = done.stdout.splitlines()
    assert json.loads(predicted) == expected
    assert loaded == "[]"
