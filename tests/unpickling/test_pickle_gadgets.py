"""The leaked-key case: validly signed packages carrying gadget pickles are refused before anything runs.

Every payload of :mod:`tests.support.pickle_payloads` (the families of fickling and of the published pickle-scanner
advisories) and fickling-injected payloads inside the real pipeline's pickle is signed with a valid key and
loaded through ``restricted_loads(verify_package(...).model_bytes)``: each is refused with one of our refusals,
no canary appears, and an audit hook in a subprocess sees no process, socket, native-library or write-open event.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fickling.analysis import Severity, check_safety
from fickling.fickle import Pickled

from diabetes_risk_model.errors import PickleRefused, UnsafePickle
from diabetes_risk_model.signing import Keyring, build_package, verify_package
from diabetes_risk_model.unpickling import restricted_loads
from tests.support.pickle_payloads import gadgets
from tests.support.signing import NAME, PV, VERSION

REFUSALS = (UnsafePickle, PickleRefused)
GADGET_NAMES = sorted(gadgets("/x"))


def _signed(tmp_path: Path, payload: bytes, keyring: Keyring) -> Path:
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(payload)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return build_package(
        out, name=NAME, version=VERSION, parameters_version=PV, model_pickle=pkl, extra_members={}, keyring=keyring
    )


@pytest.mark.parametrize("name", GADGET_NAMES)
def test_signed_gadget_is_refused(name: str, tmp_path: Path, keyring: Keyring, verify_ring: Keyring) -> None:
    canary = tmp_path / "canary"
    package = _signed(tmp_path, gadgets(str(canary))[name], keyring)
    verified = verify_package(package, verify_ring)  # the signature is valid: the key leaked
    with pytest.raises(REFUSALS):
        restricted_loads(verified.model_bytes)
    assert not canary.exists()


@pytest.fixture(scope="module")
def real_pickle(smoke_pipeline: Any) -> bytes:
    return pickle.dumps(smoke_pipeline, protocol=4)


FICKLING_INJECTIONS = [
    ("os", "system", "touch {canary}"),
    ("builtins", "exec", "open({canary!r}, 'w').write('x')"),
    ("builtins", "eval", "__import__('os').system('touch {canary}')"),
    ("subprocess", "getoutput", "touch {canary}"),
    ("pickle", "loads", None),
]


@pytest.mark.parametrize(
    ("module", "attr", "arg"), FICKLING_INJECTIONS, ids=[f"{m}.{a}" for m, a, _ in FICKLING_INJECTIONS]
)
@pytest.mark.parametrize("run_first", [True, False], ids=["before-model", "after-model"])
def test_fickling_injected_real_pipeline_is_refused(
    real_pickle: bytes, module: str, attr: str, arg: str | None, run_first: bool,
    tmp_path: Path, keyring: Keyring, verify_ring: Keyring,
) -> None:  # fmt: skip
    canary = tmp_path / "canary"
    tampered = Pickled.load(real_pickle)
    value: Any = arg.format(canary=str(canary)) if arg else pickle.dumps(f"touch {canary}")
    tampered.insert_python(value, module=module, attr=attr, run_first=run_first)
    payload = tampered.dumps()
    assert check_safety(Pickled.load(payload)).severity != Severity.LIKELY_SAFE  # the oracle agrees: malicious
    package = _signed(tmp_path, payload, keyring)
    with pytest.raises(UnsafePickle) as info:
        restricted_loads(verify_package(package, verify_ring).model_bytes)
    assert (info.value.module, info.value.name) == (module, attr)
    assert not canary.exists()


_AUDIT_SCRIPT = textwrap.dedent(
    """
    import json, os, pickle, sys, warnings
    warnings.filterwarnings("ignore")
    from diabetes_risk_model.unpickling._policy import ALLOWED_NAMES
    from diabetes_risk_model.unpickling import restricted_loads
    for module, _ in sorted(ALLOWED_NAMES):  # import what a model may import before listening
        __import__(module)
    WATCHED = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "subprocess.Popen", "socket.",
               "ctypes.dlopen", "ctypes.dlsym", "marshal.loads", "exec", "compile", "os.mkdir", "os.remove",
               "os.rename", "shutil.", "pickle.find_class")
    events = []
    def hook(event, args):
        if event.startswith(WATCHED):
            events.append(event)
        elif event == "open" and len(args) > 1 and isinstance(args[1], str) and set(args[1]) & set("wax+"):
            events.append("open-for-write")
    sys.addaudithook(hook)
    outcome = {}
    for path in sorted(os.listdir(sys.argv[1])):
        data = open(os.path.join(sys.argv[1], path), "rb").read()
        try:
            restricted_loads(data)
            outcome[path] = "loaded"
        except Exception as exc:
            outcome[path] = type(exc).__name__
    seen, events[:] = list(events), []
    pickle.loads(b"cos\\nsystem\\n(S'true'\\ntR.")  # control: the hook does see a live gadget
    print(json.dumps({"outcome": outcome, "events": seen, "control": events}))
    """
)


def test_audit_hook_sees_nothing_while_every_gadget_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    folder = tmp_path / "payloads"
    folder.mkdir()
    for name, payload in gadgets(str(canary)).items():
        (folder / name).write_bytes(payload)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    run = subprocess.run(
        [sys.executable, "-c", _AUDIT_SCRIPT, str(folder)], capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["events"] == []
    assert "os.system" in report["control"]
    assert set(report["outcome"]) == set(GADGET_NAMES)
    assert {name for name, kind in report["outcome"].items() if kind not in ("UnsafePickle", "PickleRefused")} == set()
    assert not canary.exists()
