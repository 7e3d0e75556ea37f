"""Rules that hold for the whole repository, checked mechanically.

- Importing any of our modules does no I/O: no file opened (other than code), no socket, no process.
- No module of the package imports the test suite or development tools (``tests``, ``devtools``).
- No key material or password literal outside tests/.
- Nothing from ../shared (the data, the compat package) is committed.
- No runtime state or credentials are committed, recognised by path and by content (env files holding
  ``*_KEY=``/``PASSWORD=`` values, logs, MinIO data directories, pid files); the recogniser is itself tested
  against planted examples, so it can fail.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
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


#: Top-level packages the product may never import: test rigs and development tools live there.
OUTSIDE_THE_PRODUCT = ("tests", "devtools")


def imports_from_outside_the_product(source: str) -> list[str]:
    """The modules named by *source*'s imports (absolute, any depth) whose top-level package is outside the product."""
    named: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            named += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            named.append(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if called in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                named.append(node.args[0].value)
    return [name for name in named if name.split(".")[0] in OUTSIDE_THE_PRODUCT]


@pytest.mark.parametrize(
    "source",
    [
        "from tests.support.minio_server import MinioServer",
        "import devtools.minio",
        "def f():\n    import tests.support.netns as n",
        "import importlib\nimportlib.import_module('tests.support.minio_cluster')",
    ],
)
def test_the_product_import_check_sees_a_planted_import(source: str) -> None:
    assert imports_from_outside_the_product(source)


def test_no_product_module_imports_tests_or_devtools() -> None:
    offenders = {
        str(path.relative_to(REPO)): found
        for path in sorted((REPO / "diabetes_risk_model").rglob("*.py"))
        if (found := imports_from_outside_the_product(path.read_text(encoding="utf-8")))
    }
    assert len(list((REPO / "diabetes_risk_model").rglob("*.py"))) >= 15  # the walk found the package
    assert offenders == {}


def _tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / name for name in out.decode().split("\0") if name]


def test_nothing_from_shared_is_committed() -> None:
    # An empty file carries nothing of ../shared (empty __init__.py files and an empty test vector share a digest).
    shared = [p for p in SHARED.rglob("*") if p.is_file() and p.stat().st_size > 0]
    shared_digests = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in shared}
    assert shared_digests, "../shared should be beside the repository"
    committed = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in _tracked_files() if p.is_file()}
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
        if p.is_file() and p.relative_to(REPO).parts[0] != "tests" and needle.encode() in p.read_bytes()
    ]
    assert offenders == []


# -- runtime state and credentials ------------------------------------------------------------------------------

#: A dotenv/shell assignment at the start of a line whose name marks a credential, with a literal value
#: (``${VAR}``, ``$(...)``, ``$VAR`` and ``<placeholder>`` are references, not values).
_CREDENTIAL_LINE = re.compile(
    rb"^(?:export[ \t]+)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>[^\s$<].*)?$",
    re.MULTILINE,
)
_MINIO_METADATA_MAGIC = b"XL2 "  # the first bytes of MinIO's xl.meta object metadata files
_PID_CONTENT = re.compile(rb"\A(?:[0-9]{1,10}\n?)+\Z")
_LOG_LINE = re.compile(rb"^(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|INFO:|WARNING:|ERROR:|API: )", re.MULTILINE)


def runtime_state_reasons(relative: str, content: bytes) -> list[str]:
    """Why a file at *relative* (repository-relative, ``/``-separated) with *content* is runtime state or a secret."""
    parts = relative.split("/")
    name = parts[-1]
    reasons = []
    if ".run" in parts[:-1]:
        reasons.append("under .run/ (make run's runtime state)")
    if name == ".env" or name.endswith(".env") or name.startswith(".env."):
        reasons.append("an env file")
    if name.endswith((".log", ".log.1")) or name in {"nohup.out", "logs.log"} or "logs" in parts[:-1]:
        reasons.append("a log file")
    if name.endswith(".pid") or name in {"pids", "pid"}:
        reasons.append("a pid file")
    if ".minio.sys" in parts or name == "xl.meta" or any(part.startswith("minio-data") for part in parts[:-1]):
        reasons.append("inside a MinIO data directory")
    # By content, whatever the file is called.
    for match in _CREDENTIAL_LINE.finditer(content):
        name = match.group("name")
        if match.group("value") and (name.endswith((b"_KEY", b"_TOKEN")) or re.search(b"PASSWORD|SECRET", name)):
            reasons.append(f"assigns a literal value to {match.group('name').decode()}")
    if content.startswith(_MINIO_METADATA_MAGIC):
        reasons.append("MinIO object metadata (xl.meta)")
    if _PID_CONTENT.match(content) and len(content.split()) <= 16 and not relative.endswith((".py", ".txt")):
        reasons.append("holds only process ids")
    if len(_LOG_LINE.findall(content)) >= 3 and not relative.endswith((".py", ".md", ".ipynb")):
        reasons.append("reads like a log")
    return reasons


PLANTED: dict[str, bytes] = {
    ".run/minio.env": b"MINIO_URL=127.0.0.1:9000\n",
    "config/service.env": b"MINIO_URL=127.0.0.1:9000\n",
    "deploy/settings.txt": b"MINIO_ACCESS_KEY=minio\nMINIO_SECRET_KEY=s3cr3t-but-committed\n",
    "notes/creds": b"export MINIO_ROOT_PASSWORD=hunter2hunter2\n",
    "scripts/values.cfg": b"PARAMETERS_SIGNING_KEY=0123456789abcdef0123456789abcdef\n",
    "service.log": b"starting\n",
    "var/output": b"2026-12-02T01:00:00Z started\n2026-12-02T01:00:01Z ready\n2026-12-02 01:00:02 stopped\n",
    "minio-data/model-files/pkg.zip/xl.meta": b"XL2 \x01\x00\x03\x00",
    "data/bucket/part.1": b"XL2 \x01\x00\x03\x00 object metadata",
    "data/.minio.sys/format.json": b'{"version":"1","format":"xl-single"}',
    "state/service.pid": b"12345\n",
    "state/running": b"4242\n4343\n",
}
LEGITIMATE: dict[str, bytes] = {
    "configuration/example.yaml": b"minio_secret_key: ${MINIO_SECRET_KEY}\n",
    "docs/setup.md": b"export PARAMETERS_SIGNING_KEY=$(openssl rand -hex 32)\nMINIO_SECRET_KEY=<from your vault>\n",
    "scripts/tool.py": b'KEY_ENV = "PARAMETERS_SIGNING_KEY"\n        MINIO_SECRET_KEY=server.secret_key,\n',
    "make/kube.mk": b'\tMINIO_SECRET_KEY="$$MINIO_ROOT_PASSWORD" run\n',
    "requirements.txt": b"numpy==1.26.4\n",
}


@pytest.mark.parametrize("relative", sorted(PLANTED))
def test_runtime_state_recogniser_flags_planted_examples(relative: str) -> None:
    assert runtime_state_reasons(relative, PLANTED[relative]), relative


@pytest.mark.parametrize("relative", sorted(LEGITIMATE))
def test_runtime_state_recogniser_passes_references_and_code(relative: str) -> None:
    assert runtime_state_reasons(relative, LEGITIMATE[relative]) == []


def test_no_runtime_state_or_credentials_are_tracked() -> None:
    offenders = {}
    for path in _tracked_files():
        if not path.is_file():
            continue
        relative = path.relative_to(REPO).as_posix()
        content = b"" if relative == "tests/test_hygiene.py" else path.read_bytes()  # it holds planted examples
        reasons = runtime_state_reasons(relative, content)
        if reasons:
            offenders[relative] = reasons
    assert offenders == {}


def test_planted_runtime_state_in_a_scratch_repository_is_caught(tmp_path: Path) -> None:
    """The same check, end to end on git: files added to a repository are found through ``git ls-files``."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for relative, content in PLANTED.items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    subprocess.run(["git", "-C", str(tmp_path), "add", "-f", "."], check=True)
    listed = subprocess.run(["git", "-C", str(tmp_path), "ls-files", "-z"], capture_output=True, check=True).stdout
    flagged = {name for name in listed.decode().split("\0") if name
               and runtime_state_reasons(name, (tmp_path / name).read_bytes())}  # fmt: skip
    assert flagged == set(PLANTED)
