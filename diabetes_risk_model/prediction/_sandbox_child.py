"""The sandbox's child: unpickle verified model bytes and answer the whole input space, confined.

Run by :class:`diabetes_risk_model.prediction.sandbox.Sandbox` as ``python -s -m
diabetes_risk_model.prediction._sandbox_child MEMORY_BYTES CPU_SECONDS``; never by hand. In order:

1. limits on itself: first in line for the kernel's out-of-memory killer, address space, CPU time, no core
   file;
2. every module the unpickling allow-list names is imported, so nothing needs a writable file afterwards
   (before any model byte exists: the parent starts the child while it fetches and verifies);
3. no file larger than 64 KiB (stderr is a file the parent reads the last line of); the model bytes from
   stdin, to EOF;
4. the seccomp filter (:mod:`._seccomp`): no socket, no process, no file opened for writing, no new
   privileges, only the system calls unpickling and prediction make;
5. restricted unpickling (every Python check of :mod:`diabetes_risk_model.unpickling`), the selected features,
   and the label of every input in :func:`~diabetes_risk_model.prediction.table.all_keys` order;
6. one JSON object on stdout: ``{"features": [...], "labels": "0110..."}``, or ``{"refused": <class>,
   "message": ..., "context": {...}}`` for a refusal of ours, or ``{"failed": <class>}`` for anything else.

The parent trusts none of it: it checks the format and sizes, and a crash, hang or limit is its own refusal.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
from typing import Any

_STDERR_BYTES = 64 * 1024


def _limit(memory: int, cpu_seconds: int) -> None:
    try:  # if the pod's memory runs out, the kernel kills this child, not the service
        with open("/proc/self/oom_score_adj", "w") as adjust:
            adjust.write("1000")
    except OSError:  # a kernel without it: the address-space limit below still bounds the child
        pass
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))  # SIGXCPU, then SIGKILL
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _preload() -> None:
    """Import all that unpickling and predicting will need, while files may still be opened."""
    from diabetes_risk_model.unpickling import ALLOWED_NAMES

    for module in sorted({module for module, _name in ALLOWED_NAMES}):
        importlib.import_module(module)
    for module in ("diabetes_risk_model.prediction.features", "diabetes_risk_model.prediction.table",
                   "diabetes_risk_model.training.params", "diabetes_risk_model.unpickling._load"):  # fmt: skip
        importlib.import_module(module)


def _answer(data: bytes) -> dict[str, Any]:
    from diabetes_risk_model.errors import DiabetesRiskModelError
    from diabetes_risk_model.prediction.features import selected_features
    from diabetes_risk_model.prediction.table import answer_codes
    from diabetes_risk_model.unpickling import restricted_loads

    try:
        pipeline = restricted_loads(data)
        features = selected_features(pipeline)
        codes = answer_codes(pipeline)
    except DiabetesRiskModelError as exc:
        return {"refused": type(exc).__name__, "message": str(exc), "context": exc.context}
    except Exception as exc:  # what an admitted model can still raise: the parent refuses it
        return {"failed": type(exc).__name__}
    return {"features": features, "labels": "".join("01"[code] for code in codes.tolist())}


def main(argv: list[str]) -> None:
    memory, cpu_seconds = int(argv[0]), int(argv[1])
    _limit(memory, cpu_seconds)
    _preload()  # may write caches and logs in the private dir the parent gave it; from here on, only stderr
    resource.setrlimit(resource.RLIMIT_FSIZE, (_STDERR_BYTES, _STDERR_BYTES))
    data = sys.stdin.buffer.read()
    from diabetes_risk_model.prediction._seccomp import confine

    confine()
    answer = _answer(data)
    sys.stdout.write(json.dumps(answer, default=str))
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
