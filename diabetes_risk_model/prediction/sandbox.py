"""Unpickle and answer in a throwaway child, so that native code parsing a signed pickle has nothing to reach.

Verification stays in the service process; a :class:`Sandbox` hands the verified bytes to a short-lived
child (:mod:`._sandbox_child`) that unpickles them with every check of
:mod:`diabetes_risk_model.unpickling`, reads the selected features and answers the whole input space, under:

* a seccomp filter (:mod:`._seccomp`): no socket, no process, no file opened for writing;
* an address-space limit, a CPU-time limit and a wall-clock limit (the child is killed at it);
* an environment of its own: no credential or setting of the service, one thread per library, and a private
  temp dir (its working directory and home, removed afterwards) for what its libraries write while importing.

Only plain data comes back (the feature names and one ``0``/``1`` per input, in JSON, never a pickle), checked
here for format and size. A crash, a hang, a limit hit or malformed output is :class:`UnsafeModel`; a refusal
of ours inside the child is raised again here as the same class with the same context.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import diabetes_risk_model
from diabetes_risk_model import errors
from diabetes_risk_model.errors import UnsafeModel, VerificationError
from diabetes_risk_model.prediction.table import TABLE_SIZE

_PACKAGE_ROOT = Path(diabetes_risk_model.__file__).resolve().parents[1]
_MAX_OUTPUT = 1024 * 1024  # the answer is about 36 kB
_MAX_FEATURES = 64
_SINGLE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class SandboxLimits:
    """What the child may use: address space (bytes), CPU time and wall-clock time (seconds)."""

    memory_bytes: int = 3 * 1024**3
    cpu_seconds: int = 120
    wall_seconds: float = 180.0


@dataclass(frozen=True)
class SandboxAnswer:
    """What the child found: the model's selected features and its label code (0/1) for every input."""

    features: list[str]
    codes: np.ndarray


def _environment(private: Path) -> dict[str, str]:
    """The child's whole environment: none of the service's variables but PATH, and *private* (the child's
    own temp dir, removed after it) as the only place its libraries may write while they import."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(_PACKAGE_ROOT)}
    env |= {"PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
    env |= {"HOME": str(private), "TMPDIR": str(private), "MPLCONFIGDIR": str(private / "matplotlib")}
    env |= {"PYCARET_CUSTOM_LOGGING_PATH": str(private / "pycaret.log")}
    return env | dict.fromkeys(_SINGLE_THREAD, "1")


CHILD = "diabetes_risk_model.prediction._sandbox_child"


class Sandbox:
    """One confined child, started before the bytes it answers for exist, so that its interpreter start and
    imports overlap the fetch and verification; :meth:`answer` gives it the verified bytes, once.

    Use it as a context manager: leaving the block kills a child that is still running (one never given
    bytes, after a refusal in verification, or one that outlived an exception).
    """

    def __init__(self, limits: SandboxLimits | None = None, module: str = CHILD) -> None:
        self.limits = limits = limits or SandboxLimits()
        self._private = tempfile.TemporaryDirectory(prefix="drm-sandbox-")
        private = Path(self._private.name)
        command = [sys.executable, "-s", "-m", module, str(limits.memory_bytes), str(limits.cpu_seconds)]
        self._stderr = private / "stderr"
        try:
            with self._stderr.open("wb") as stderr:
                self._child = subprocess.Popen(  # our interpreter and module, no shell
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                    env=_environment(private), cwd=private, start_new_session=True,
                )  # fmt: skip
        except BaseException:
            self._private.cleanup()
            raise

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._kill()
        finally:
            self._private.cleanup()

    def _kill(self) -> None:
        """Kill the child's process group if the child still runs, and reap it."""
        if self._child.poll() is None:
            os.killpg(self._child.pid, signal.SIGKILL)
        self._child.communicate()

    def answer(self, model_bytes: bytes | memoryview) -> SandboxAnswer:
        """Unpickle *model_bytes* (already verified) and answer every input in the child; see the module."""
        child, limits = self._child, self.limits
        try:
            output, _ = child.communicate(bytes(model_bytes), timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            self._kill()
            raise UnsafeModel(f"wall-clock limit of {limits.wall_seconds:g} s reached", limit="wall-clock") from None
        if child.returncode < 0:
            raise _signalled(-child.returncode, limits)
        if child.returncode != 0:
            raise UnsafeModel(f"the sandbox exited with status {child.returncode}: {self._last_error()!r}", limit="")
        return _parse(output, limits)

    def _last_error(self) -> str:
        """The last line the child wrote to stderr (at most 300 characters): why it exited."""
        lines = self._stderr.read_bytes()[-4096:].strip().splitlines()
        return lines[-1][:300].decode("utf-8", "replace") if lines else ""


def answer_in_sandbox(model_bytes: bytes | memoryview, limits: SandboxLimits | None = None) -> SandboxAnswer:
    """Start a :class:`Sandbox` and answer *model_bytes* in it (for callers with the bytes already at hand)."""
    with Sandbox(limits) as sandbox:
        return sandbox.answer(model_bytes)


def _signalled(number: int, limits: SandboxLimits) -> UnsafeModel:
    name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else f"signal {number}"
    if name == "SIGXCPU":
        return UnsafeModel(f"killed by {name}: CPU-time limit of {limits.cpu_seconds} s", limit="cpu", signal=name)
    if name == "SIGKILL":  # the CPU-time hard limit, or the system's out-of-memory killer
        return UnsafeModel("killed by SIGKILL (CPU-time or system memory limit)", limit="cpu", signal=name)
    return UnsafeModel(f"killed by {name} while unpickling or predicting", limit="", signal=name)


def _parse(output: bytes, limits: SandboxLimits) -> SandboxAnswer:
    if len(output) > _MAX_OUTPUT:
        raise UnsafeModel(f"the sandbox's answer is larger than {_MAX_OUTPUT} bytes", limit="output")
    try:
        answer = json.loads(output)
    except ValueError:
        raise UnsafeModel("the sandbox's answer is not JSON", limit="output") from None
    if type(answer) is not dict:
        raise UnsafeModel("the sandbox's answer is not an object", limit="output")
    if "refused" in answer:
        raise _refusal(answer)
    if "failed" in answer:
        failed = str(answer["failed"])[:80]
        if failed == "MemoryError":
            raise UnsafeModel(f"memory limit of {limits.memory_bytes // 2**20} MiB reached", limit="memory")
        raise UnsafeModel(f"loading or predicting raised {failed}", limit="", exception=failed)
    features: Any = answer.get("features")
    labels: Any = answer.get("labels")
    ok = set(answer) == {"features", "labels"} and type(features) is list and len(features) <= _MAX_FEATURES
    if not ok or not all(type(name) is str and 0 < len(name) <= 64 for name in features):
        raise UnsafeModel("the sandbox's answer does not name the selected features", limit="output")
    if type(labels) is not str or len(labels) != TABLE_SIZE or labels.strip("01"):
        raise UnsafeModel(f"the sandbox's answer is not {TABLE_SIZE} labels of 0 or 1", limit="output")
    codes = np.frombuffer(labels.encode("ascii"), dtype=np.uint8) - ord("0")
    return SandboxAnswer(features, codes.astype(np.intp))


def _refusal(answer: dict[str, Any]) -> VerificationError:
    """The child's refusal, as the same class of ours with the same context (anything else is UnsafeModel)."""
    cls = getattr(errors, str(answer.get("refused")), None)
    message, context = answer.get("message"), answer.get("context")
    if not (isinstance(cls, type) and issubclass(cls, VerificationError)) or type(message) is not str:
        return UnsafeModel("the sandbox's refusal is not one of ours", limit="output")
    refusal = VerificationError.__new__(cls)
    VerificationError.__init__(refusal, message[:2000], **(context if type(context) is dict else {}))
    for name, value in refusal.context.items():
        setattr(refusal, name, value)
    return refusal


__all__ = ["CHILD", "Sandbox", "SandboxAnswer", "SandboxLimits", "answer_in_sandbox"]
