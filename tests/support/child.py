"""Run untrusted model bytes in a throwaway child: ``faulthandler`` on, an address-space cap, a timeout.

Used by the control runs of the state attack tests (what happens *without* our checks) and by the fuzzer. The
child's death by a signal, its timeout, or its memory cap is an outcome the caller inspects, never a crash of
the test process.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHILD_MEMORY = 3 * 1024**3  # numpy, sklearn, pycaret and LightGBM loaded take about 1.5 GiB of address space


@dataclass(frozen=True)
class ChildResult:
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def signal(self) -> str | None:
        """The signal that ended the child (``SIGSEGV``...), or ``None``."""
        if self.returncode is None or self.returncode >= 0:
            return None
        return signal.Signals(-self.returncode).name

    def describe(self) -> str:
        if self.timed_out:
            return "timeout"
        return self.signal or f"exit {self.returncode}"


def _limit(memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_child(script: str, *args: str, timeout: float, memory: int = CHILD_MEMORY) -> ChildResult:
    """Run *script* with ``python -X faulthandler -c`` and *args*, under the memory cap and the timeout."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        preexec_fn=lambda: _limit(memory),
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        return ChildResult(None, stdout, stderr)
    return ChildResult(process.returncode, stdout, stderr)


UNCHECKED_PREDICT = """
import pickle, sys
model = pickle.loads(open(sys.argv[1], "rb").read())  # the harm without our checks: plain pickle
rows = pickle.loads(open(sys.argv[2], "rb").read())
print(model.predict_proba(rows).tolist())
"""
"""A control: load *model* with the standard unpickler and predict *rows* (both paths in argv)."""
