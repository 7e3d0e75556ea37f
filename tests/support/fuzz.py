"""A structure-aware fuzzer for the loader: mutate a real pipeline's pickle and its objects' state, load each
case with :func:`~diabetes_risk_model.unpickling.restricted_loads` in a throwaway child, and classify it.

Mutations (drawn with ``hypothesis``), each a small JSON-able description the child applies itself:

* ``bytes``: flip, overwrite, delete, duplicate or insert bytes of the pickle, or truncate it;
* ``memo``: point one ``BINGET``/``LONG_BINGET`` at another memo entry (aliasing, type confusion);
* ``tree``: set one field of one node of one sklearn ``Tree`` (children, feature, threshold) to a chosen value;
* ``booster``: replace one value of one key of one tree of the feature selector's LightGBM model string
  (``tree_sizes`` recomputed or not);
* ``array``: rebuild one array's state with another shape or dtype.

Allowed outcomes only: ``loaded`` (and ``predict_proba`` on real rows returns finite probabilities summing to
one) or ``refused`` with a :class:`~diabetes_risk_model.errors.VerificationError`. Anything else (a signal,
a timeout, the memory cap, another exception, an invalid answer) is a finding. Children run many cases each
(start-up costs seconds); a child that dies is replaced and the case it was running is the finding.

Run: ``python -m tests.support.fuzz --cases N --data CSV`` (``make fuzz``), or ``--model PICKLE --rows ROWS``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pickle
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.child import CHILD_MEMORY, REPO

CASE_SECONDS = 20.0
ALLOWED = ("loaded", "refused")


def strategy() -> Any:
    """The ``hypothesis`` strategy of mutation descriptions."""
    from hypothesis import strategies as st

    position = st.floats(0, 1, exclude_max=True)
    small = st.integers(-(2**31), 2**31) | st.sampled_from([-2, -1, 0, 1, 2, 3, 4, 20, 21, 2**40])
    return st.one_of(
        st.fixed_dictionaries(
            {
                "kind": st.just("bytes"),
                "op": st.sampled_from(["flip", "overwrite", "delete", "duplicate", "insert", "truncate"]),
                "at": position,
                "data": st.binary(min_size=1, max_size=16),
            }
        ),
        st.fixed_dictionaries({"kind": st.just("memo"), "at": position, "target": st.integers(0, 6000)}),
        st.fixed_dictionaries(
            {
                "kind": st.just("tree"),
                "tree": st.integers(0, 199),
                "node": st.integers(0, 40),
                "field": st.sampled_from(["left_child", "right_child", "feature", "threshold", "n_node_samples"]),
                "value": small | st.floats(allow_nan=True, allow_infinity=True),
            }
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("booster"),
                "tree": st.integers(0, 99),
                "key": st.sampled_from(
                    [
                        "num_leaves",
                        "num_cat",
                        "split_feature",
                        "left_child",
                        "right_child",
                        "decision_type",
                        "threshold",
                        "leaf_count",
                        "leaf_value",
                        "is_linear",
                    ]
                ),
                "at": st.integers(0, 40),
                "value": st.sampled_from(["-1", "0", "1", "2", "30", "31", "-31", "-32", "100000", "nan", "1e400", ""]),
                "resize": st.booleans(),
            }
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("array"),
                "which": st.sampled_from(["mean_", "scale_", "var_", "statistics_"]),
                "shape": st.lists(st.integers(-1, 2**33), min_size=0, max_size=3).map(tuple),
                "dtype": st.sampled_from(["<f8", "<f4", "<i8", "|u1", "O", "<U3", ">f8"]),
            }
        ),
    )


def draw_cases(count: int, seed: int) -> list[dict[str, Any]]:
    """*count* mutation descriptions drawn by ``hypothesis`` (generation only: no shrinking, no database)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fix_seed

    cases: list[dict[str, Any]] = []

    @fix_seed(seed)
    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy())
    def collect(case: dict[str, Any]) -> None:
        cases.append(case)

    collect()
    for case in cases:  # bytes/floats to JSON
        if "data" in case:
            case["data"] = case["data"].hex()
        if isinstance(case.get("value"), float):
            case["value"] = repr(case["value"])
    return cases[:count]


@dataclass
class Report:
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    findings: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    slowest: tuple[float, dict[str, Any] | None] = (0.0, None)
    peak_rss_kib: int = 0
    cases: int = 0

    def add(self, case: dict[str, Any], outcome: str, seconds: float) -> None:
        self.cases += 1
        self.counts[outcome.split(":", 1)[0] if outcome.startswith(ALLOWED) else outcome] += 1
        if not outcome.startswith(ALLOWED):
            self.findings.append((case, outcome))
        if seconds > self.slowest[0]:
            self.slowest = (seconds, case)

    def text(self) -> str:
        lines = [f"cases: {self.cases}"] + [f"  {name}: {n}" for name, n in sorted(self.counts.items())]
        lines.append(f"slowest case: {self.slowest[0]:.2f} s {json.dumps(self.slowest[1])}")
        lines.append(f"peak child memory (max RSS): {self.peak_rss_kib / 1024:.0f} MiB")
        lines += [f"FINDING {outcome}: {json.dumps(case)}" for case, outcome in self.findings[:20]]
        return "\n".join(lines)


def _start(model: Path, rows: Path) -> subprocess.Popen[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, "-X", "faulthandler", "-m", "tests.support.fuzz_child", str(model), str(rows)]
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=env, cwd=REPO, preexec_fn=limit, start_new_session=True,
    )  # fmt: skip


def _read_line(child: subprocess.Popen[str], timeout: float) -> str | None:
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    return child.stdout.readline() if ready else None


def _stop(child: subprocess.Popen[str], *, hung: bool) -> str:
    """End *child*: killed if it *hung*, else reaped (it closed its output, so it is exiting)."""
    if not hung:
        try:
            code = child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            hung = True
    if hung:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return "timeout"
    return f"signal:{signal.Signals(-code).name}" if code < 0 else f"exit:{code}"


def run(cases: list[dict[str, Any]], model: Path, rows: Path, report: Report | None = None) -> Report:
    """Run *cases* through as few children as possible; return the :class:`Report`."""
    report = report or Report()
    pending = list(cases)
    while pending:
        child = _start(model, rows)
        assert child.stdin is not None
        started_line = _read_line(child, 120)
        if started_line != "ready\n":
            raise RuntimeError("fuzz child did not start: " + _stop(child, hung=started_line is None))
        while pending:
            case = pending.pop(0)
            started = time.monotonic()
            try:
                child.stdin.write(json.dumps(case) + "\n")
                child.stdin.flush()
            except BrokenPipeError:
                line = None
            else:
                line = _read_line(child, CASE_SECONDS)
            if not line:  # None: no answer in time; "": the child died
                report.add(case, _stop(child, hung=line is None), time.monotonic() - started)
                break
            answer = json.loads(line)
            report.add(case, answer["outcome"], answer["seconds"])
            report.peak_rss_kib = max(report.peak_rss_kib, answer["rss_kib"])
        else:
            child.stdin.close()
            child.wait(timeout=60)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz the restricted loader with mutated real pipelines.")
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, help="the training CSV: train a small real pipeline to mutate")
    parser.add_argument("--model", type=Path, help="a real pipeline, pickled (instead of --data)")
    parser.add_argument("--rows", type=Path, help="a pickled DataFrame of input rows (with --model)")
    args = parser.parse_args(argv)
    if (args.model is None) == (args.data is None) or (args.model is None) != (args.rows is None):
        parser.error("give --data CSV, or --model PICKLE and --rows ROWS")
    started = time.monotonic()
    if args.data is not None:
        if not args.data.is_file():
            parser.error(f"training data not found at {args.data}")
        args.model, args.rows = write_inputs(*train_inputs(args.data), Path(tempfile.mkdtemp(prefix="drm-fuzz-")))
        print(f"... trained a pipeline to mutate, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    report = Report()
    batch = 500
    for offset in range(0, args.cases, batch):
        run(draw_cases(min(batch, args.cases - offset), args.seed + offset), args.model, args.rows, report)
        print(f"... {report.cases} cases, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(report.text())
    print(f"wall time: {time.monotonic() - started:.0f} s")
    return 1 if report.findings else 0


def train_inputs(data: Path) -> tuple[Any, Any]:
    """A small real pipeline (the smoke training) and twenty real rows of *data* without the target."""
    from diabetes_risk_model.training.data import TARGET, load_data, rename_columns
    from diabetes_risk_model.training.smoke import train_smoke_pipeline

    rows = rename_columns(load_data(data)).drop(columns=[TARGET]).sample(20, random_state=1)
    return train_smoke_pipeline(data, rows=2000), rows


def write_inputs(pipeline: Any, rows: Any, directory: Path) -> tuple[Path, Path]:
    """Pickle a trusted pipeline and rows for the children (our own objects, plain pickle)."""
    directory.mkdir(parents=True, exist_ok=True)
    model, frame = directory / "model.pkl", directory / "rows.pkl"
    model.write_bytes(pickle.dumps(pipeline, protocol=5))
    frame.write_bytes(pickle.dumps(rows))
    return model, frame


if __name__ == "__main__":
    raise SystemExit(main())
