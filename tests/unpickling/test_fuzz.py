"""A bounded run of the structure-aware fuzzer (:mod:`tests.support.fuzz`) over a real pipeline.

Every mutant of the pickle bytes, the memo references, the tree arrays, the booster string and the fitted arrays
must either load and answer validly, or be refused with an exception of ours: never a signal, a hang, the memory
cap, or another exception. ``make fuzz`` runs the long version.
"""

from __future__ import annotations

import collections
import pickle
from pathlib import Path
from typing import Any

from tests.support.fuzz import draw_cases, run, write_inputs

CASES = 240  # about a minute on two cores; `make fuzz` runs 100,000
SEED = 20261204


def test_every_mutant_loads_validly_or_is_refused_by_us(smoke_pipeline: Any, tmp_path: Path, rows_file: Path) -> None:
    model, rows_path = write_inputs(smoke_pipeline, pickle.loads(rows_file.read_bytes()), tmp_path)
    cases = draw_cases(CASES, SEED)
    kinds = collections.Counter(case["kind"] for case in cases)
    assert set(kinds) == {"bytes", "memo", "tree", "booster", "array"}, kinds  # every mutation kind is exercised
    report = run(cases, model, rows_path)
    assert report.cases == CASES
    assert not report.findings, report.text()
    assert report.counts["refused"] > 0 and report.counts["loaded"] > 0, report.text()  # both outcomes reached


def test_a_crashing_child_is_a_finding_not_a_crash_of_the_run(
    smoke_pipeline: Any, tmp_path: Path, rows_file: Path
) -> None:
    """The harness itself: a case that kills its child is reported, and the next case runs in a new child."""
    model, rows_path = write_inputs(smoke_pipeline, pickle.loads(rows_file.read_bytes()), tmp_path)
    lethal = {"kind": "bytes", "op": "truncate", "at": 0.5, "data": "00", "die": True}
    report = run([lethal, {"kind": "bytes", "op": "truncate", "at": 0.5, "data": "00"}], model, rows_path)
    assert [outcome for _case, outcome in report.findings] == ["signal:SIGKILL"], report.text()
    assert report.counts["refused"] == 1, report.text()
