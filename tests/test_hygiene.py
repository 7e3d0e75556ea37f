"""Rules that hold for the whole repository, checked mechanically.

- Importing any of our modules does no I/O: no file opened (other than code), no socket, no process.
- No key material or password literal outside tests/.
- Nothing from ../shared (the data, the compat package) is committed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

_IMPORT_PROBE = textwrap.dedent(
    r"""
    import json, os, pkgutil, sys, importlib, sysconfig

    PKG_DIR = os.path.join(os.getcwd(), "diabetes_risk_model")
    CODE_SUFFIXES = (".py", ".pyc", ".so", ".pth", ".typed")
    prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    STDLIB = sysconfig.get_paths()["stdlib"]
    THIRD_PARTY = tuple({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    events = []

    def first_own_frame():
        frame = sys._getframe(2)
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename.startswith(PKG_DIR):
                return frame
            stdlib = filename.startswith("<frozen") or (
                filename.startswith(STDLIB) and not filename.startswith(THIRD_PARTY)
            )
            if not stdlib:
                return None  # a third-party frame acted first: not our module's doing
            frame = frame.f_back
        return None

    def hook(event, args):
        if event not in ("open", "socket.connect", "subprocess.Popen", "os.system", "os.exec", "os.fork"):
            return
        if event == "open":
            path = str(args[0])
            if path.endswith(CODE_SUFFIXES) or path.startswith(prefixes) or os.path.isdir(path):
                return
        frame = first_own_frame()
        if frame is not None and frame.f_code.co_name == "<module>":
            events.append([event, str(args[0])[:200], frame.f_code.co_filename, frame.f_lineno])

    sys.addaudithook(hook)  # before anything of ours is imported: walk_packages imports subpackages
    import diabetes_risk_model
    names = [m.name for m in pkgutil.walk_packages(diabetes_risk_model.__path__, "diabetes_risk_model.")]
    names = [n for n in names if not n.endswith("__main__")]
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append([name, repr(exc)])
    print(json.dumps({"modules": names, "events": events, "failed": failed}))
    """
)


def test_importing_our_modules_does_no_io() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(report["modules"]) >= 15, report["modules"]  # the probe really walked the package
    assert report["failed"] == []
    assert report["events"] == []


def _tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / name for name in out.decode().split("\0") if name]


def test_nothing_from_shared_is_committed() -> None:
    shared_digests = {
        hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in SHARED.rglob("*") if p.is_file()
    }
    assert shared_digests, "../shared should be beside the repository"
    committed = {
        hashlib.sha256(p.read_bytes()).hexdigest(): p for p in _tracked_files() if p.is_file()
    }
    assert not set(shared_digests) & set(committed)
    assert not [p for p in _tracked_files() if p.suffix in {".csv", ".pkl", ".zip", ".pem", ".key"}]


@pytest.mark.parametrize(
    "needle",
    [
        "BEGIN PRIVATE KEY",
        "BEGIN OPENSSH PRIVATE KEY",
        "BEGIN EC PRIVATE KEY",
        "wjtRFppXQpxTChQnNcQJKGlLHKJBmAHMepfFbqvOoUrnuxIsKdiLCrrypYFQsqcw",  # the original design's published key
        "ASDFGHJKL",
    ],
)
def test_no_secret_literals_outside_tests(needle: str) -> None:
    offenders = [
        str(p.relative_to(REPO))
        for p in _tracked_files()
        if p.is_file()
        and p.relative_to(REPO).parts[0] != "tests"
        and needle.encode() in p.read_bytes()
    ]
    assert offenders == []
