"""The loading sandbox: a real pipeline answers exactly as in-process; signed pickles that crash or hang native
code are refused cleanly with the Python checks off (the sandbox alone) and with them on; the filter denies
sockets, processes and writable files; malformed answers are refusals."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from diabetes_risk_model.errors import UnsafeModel, UnsafeModelState
from diabetes_risk_model.prediction import sandbox
from diabetes_risk_model.prediction.features import selected_features
from diabetes_risk_model.prediction.sandbox import Sandbox, SandboxLimits, answer_in_sandbox
from diabetes_risk_model.prediction.table import TABLE_SIZE, answer_codes
from diabetes_risk_model.signing import Keyring
from tests.support.forge import signed_model_bytes, with_kd_tree_state, with_model_string, with_tree_state
from tests.support.signing import keyring, new_key, other_key, retired_key, verify_ring  # noqa: F401 - fixtures
from tests.unpickling.test_state_kd_tree import ATTACKS as KD_TREE_ATTACKS
from tests.unpickling.test_state_lightgbm import CONTROLS as BOOSTER_ATTACKS
from tests.unpickling.test_state_tree import ATTACKS as TREE_ATTACKS

UNCHECKED = "tests.support.unchecked_child"


def run_child(module: str, data: bytes, limits: SandboxLimits) -> Any:
    """*data* answered by the sandbox's child *module* (our own, or one speaking its protocol)."""
    with Sandbox(limits, module) as child:
        return child.answer(data)


FAST = SandboxLimits(memory_bytes=3 * 1024**3, cpu_seconds=15, wall_seconds=40)


@pytest.fixture
def signed(tmp_path: Any, keyring: Keyring, verify_ring: Keyring) -> Callable[[bytes], bytes]:  # noqa: F811
    """Sign forged pickle bytes with a valid (leaked) key and return what verification hands the loader."""
    return lambda data: signed_model_bytes(data, tmp_path / "package", keyring, verify_ring)


def _attacks(pipeline: Any) -> dict[str, bytes]:
    return {
        "tree-child-out-of-range": with_tree_state(pipeline, TREE_ATTACKS["child-out-of-range"][0]),
        "tree-cycle": with_tree_state(pipeline, TREE_ATTACKS["cycle"][0]),
        "booster-tree-sizes": with_model_string(pipeline, BOOSTER_ATTACKS["tree-sizes"]),
        "booster-split-feature": with_model_string(pipeline, BOOSTER_ATTACKS["split-feature-far-out-of-range"]),
        "kd-tree-index-out-of-range": with_kd_tree_state(pipeline, KD_TREE_ATTACKS["index-out-of-range"][0]),
    }


HARM = {  # what each attack does to the confined child without the Python checks
    "tree-child-out-of-range": {"SIGSEGV", "SIGBUS"},
    "tree-cycle": {"cpu", "wall-clock"},
    "booster-tree-sizes": {"SIGABRT", "SIGSEGV", "SIGBUS"},
    "booster-split-feature": {"SIGABRT", "SIGSEGV", "SIGBUS"},
    "kd-tree-index-out-of-range": {"SIGSEGV", "SIGBUS"},
}


def test_a_real_pipeline_answers_in_the_sandbox_exactly_as_in_process(smoke_pipeline: Any) -> None:
    answer = answer_in_sandbox(pickle.dumps(smoke_pipeline, protocol=5))
    assert answer.features == selected_features(smoke_pipeline)
    assert answer.codes.shape == (TABLE_SIZE,)
    np.testing.assert_array_equal(answer.codes, answer_codes(smoke_pipeline))


@pytest.mark.parametrize("attack", sorted(HARM))
def test_without_the_python_checks_the_sandbox_alone_refuses_each_attack(
    smoke_pipeline: Any, signed: Callable[[bytes], bytes], attack: str
) -> None:
    data = signed(_attacks(smoke_pipeline)[attack])
    with pytest.raises(UnsafeModel) as info:
        run_child(UNCHECKED, data, FAST)
    seen = info.value.signal if info.value.signal and info.value.limit != "cpu" else info.value.limit
    assert seen in HARM[attack] or info.value.signal in HARM[attack], str(info.value)


@pytest.mark.parametrize("attack", sorted(HARM))
def test_with_the_python_checks_the_child_refuses_each_attack_with_path_and_rule(
    smoke_pipeline: Any, signed: Callable[[bytes], bytes], attack: str
) -> None:
    with pytest.raises(UnsafeModelState) as info:
        answer_in_sandbox(signed(_attacks(smoke_pipeline)[attack]), FAST)
    assert info.value.path and info.value.rule, str(info.value)  # the child's refusal, rebuilt as the same class


class _Allocate:
    def __reduce__(self) -> tuple[Any, ...]:
        return (bytearray, (16 * 1024**3,))  # 16 GiB on load


def test_the_memory_limit_is_a_refusal_naming_it() -> None:
    with pytest.raises(UnsafeModel) as info:
        run_child(UNCHECKED, pickle.dumps(_Allocate()), FAST)
    assert info.value.limit == "memory", str(info.value)


def test_the_wall_clock_limit_kills_a_child_that_waits() -> None:
    sleeping = pickle.dumps(_Sleep())
    with pytest.raises(UnsafeModel) as info:
        run_child(UNCHECKED, sleeping, SandboxLimits(cpu_seconds=60, wall_seconds=8))
    assert info.value.limit == "wall-clock", str(info.value)


class _Sleep:
    def __reduce__(self) -> tuple[Any, ...]:
        import time

        return (time.sleep, (600,))  # no CPU used: only the wall-clock limit ends it


CONFINED_PROBES = """
import json, os, socket, sys
from diabetes_risk_model.prediction._seccomp import confine
confine()
results = {}
def probe(name, action):
    try:
        action()
        results[name] = "allowed"
    except OSError as exc:
        results[name] = type(exc).__name__
probe("socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
probe("unix-socket", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
probe("open-for-writing", lambda: open(sys.argv[1] + "/written", "w"))
probe("fork", os.fork)
probe("execve", lambda: os.execv("/bin/true", ["/bin/true"]))
probe("read-a-file", lambda: open("/etc/hostname").read())
probe("kill-parent", lambda: os.kill(os.getppid(), 0))
print(json.dumps(results))
"""


def test_the_filter_denies_sockets_processes_and_writable_files(tmp_path: Any) -> None:
    result = subprocess.run([sys.executable, "-c", CONFINED_PROBES, str(tmp_path)], capture_output=True, text=True,
                            timeout=60, check=True)  # fmt: skip
    results = json.loads(result.stdout)
    assert results == {
        "socket": "PermissionError",
        "unix-socket": "PermissionError",
        "open-for-writing": "PermissionError",
        "fork": "PermissionError",
        "execve": "PermissionError",
        "read-a-file": "allowed",
        "kill-parent": "PermissionError",
    }, result.stderr[-500:]
    assert not (tmp_path / "written").exists()


def test_the_child_is_first_in_line_for_the_out_of_memory_killer_and_has_its_limits() -> None:
    code = (
        "import resource; from diabetes_risk_model.prediction._sandbox_child import _limit; _limit(2**33, 7); "
        "print(open('/proc/self/oom_score_adj').read().strip(), resource.getrlimit(resource.RLIMIT_AS)[0], "
        "resource.getrlimit(resource.RLIMIT_CPU)[0])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["1000", str(2**33), "7"], result.stderr[-500:]


def test_a_child_that_exits_with_an_error_is_a_refusal_naming_its_last_line() -> None:
    with pytest.raises(UnsafeModel) as info:  # json.tool takes the limits for file names, and exits 2
        run_child("json.tool", b"{}", FAST)
    assert "exited with status 2" in str(info.value) and "No such file" in str(info.value), str(info.value)


def test_a_sandbox_left_without_bytes_leaves_no_process_behind() -> None:
    """After a refusal in verification the loader leaves the block without answering: the child is killed."""
    with Sandbox(FAST) as sandbox:
        pid = sandbox._child.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_child_gets_no_credential_of_the_service(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("MINIO_SECRET_KEY", "secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    env = sandbox._environment(tmp_path)
    assert "secret" not in env.values() and not {"MINIO_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"} & set(env)


def test_the_child_writes_only_in_its_private_dir_which_is_removed_after(
    smoke_pipeline: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the image: the service's working directory and home are read-only (here: not ours to touch)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where tempfile puts the child's private dir
    tempfile_dir = tempfile.tempdir
    tempfile.tempdir = None
    try:
        with Sandbox(FAST) as child:
            private = Path(child._private.name)
            assert private.parent == tmp_path
            answer = child.answer(pickle.dumps(smoke_pipeline, protocol=5))
    finally:
        tempfile.tempdir = tempfile_dir
    assert answer.codes.shape == (TABLE_SIZE,)
    assert not private.exists() and list(tmp_path.iterdir()) == []


MALFORMED = {
    "not-json": b"\x80pickle",
    "not-an-object": b"[1, 2]",
    "short-table": b'{"features": ["BMI"], "labels": "0101"}',
    "labels-not-binary": b'{"features": ["BMI"], "labels": "' + b"2" * TABLE_SIZE + b'"}',
    "features-not-strings": b'{"features": [1], "labels": "' + b"0" * TABLE_SIZE + b'"}',
    "extra-key": b'{"features": [], "labels": "' + b"0" * TABLE_SIZE + b'", "pipeline": "x"}',
    "foreign-refusal": b'{"refused": "SystemExit", "message": "x", "context": {}}',
    "too-large": b" " * (2 * 1024 * 1024),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_answer_is_a_refusal(case: str) -> None:
    with pytest.raises(UnsafeModel) as info:
        sandbox._parse(MALFORMED[case], FAST)
    assert info.value.limit == "output", str(info.value)
