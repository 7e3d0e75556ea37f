"""What the loading sandbox costs: unpickling and answering the whole input space in the confined child, side by
side with the same work unconfined, on the same bytes of a real pipeline.

- **pickle**: plain ``pickle.loads`` + ``answer_codes``, no check at all (the baseline);
- **in-process**: ``restricted_loads`` (every check of the unpickler) + ``answer_codes``, unconfined;
- **sandbox**: a :class:`~diabetes_risk_model.prediction.sandbox.Sandbox` started and answered at once (the
  worst case: in the service it starts before the fetch, so its imports overlap fetching and verifying), and
  the child's imports alone.

Each variant runs ``--repeat`` times, alternating; the script prints medians, the ratio and the sandbox child's
peak resident memory (``ru_maxrss`` of reaped children, measured after one sandbox run alone). The
unconfined variants run in a fresh interpreter too, so all pay their imports. It asserts nothing.

    .venv/bin/python benchmarks/bench_sandbox.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _service_rig import DEFAULT_DATA, train_pipeline

from diabetes_risk_model.prediction.sandbox import answer_in_sandbox

LOAD_AND_ANSWER = (
    "import sys; from {loads} import {name} as loads; "
    "from diabetes_risk_model.prediction.table import answer_codes; "
    "answer_codes(loads(open(sys.argv[1], 'rb').read()))"
)
UNCHECKED = LOAD_AND_ANSWER.format(loads="pickle", name="loads")
IN_PROCESS = LOAD_AND_ANSWER.format(loads="diabetes_risk_model.unpickling", name="restricted_loads")
IMPORTS = "from diabetes_risk_model.prediction._sandbox_child import _preload; _preload()"


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def python(code: str, *args: str) -> Callable[[], object]:
    """A fresh interpreter running *code*, as a timed action."""
    return lambda: subprocess.run([sys.executable, "-s", "-c", code, *args], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows-per-class", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DIABETES_DATA") or DEFAULT_DATA))
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"error: training data not found at {args.data}; set DIABETES_DATA or --data", file=sys.stderr)
        return 2
    data = pickle.dumps(train_pipeline(args.data, args.rows_per_class), protocol=5)
    times: dict[str, list[float]] = {"pickle": [], "in-process": [], "sandbox": [], "imports": []}
    answer_in_sandbox(data)  # first, alone: the peak memory of children so far is the sandbox child's
    sandbox_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        model = Path(tmp) / "model.pkl"
        model.write_bytes(data)
        for _ in range(args.repeat):
            times["pickle"].append(timed(python(UNCHECKED, str(model))))
            times["in-process"].append(timed(python(IN_PROCESS, str(model))))
            times["sandbox"].append(timed(lambda: answer_in_sandbox(data)))
            times["imports"].append(timed(python(IMPORTS)))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {len(data) / 1e6:.1f} MB pickle")
    for name, values in times.items():
        print(f"  {name:10s} median {medians[name]:.2f} s  {[round(v, 2) for v in values]}")
    print(f"  ratio in-process / pickle = {medians['in-process'] / medians['pickle']:.3f}x (the checks)")
    print(f"  ratio sandbox / pickle = {medians['sandbox'] / medians['pickle']:.3f}x (checks and confinement)")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak RSS: sandbox child {sandbox_peak:.0f} MiB; largest of all children {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
