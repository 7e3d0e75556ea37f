"""The lock files pin every package by version and sha256 hash, and every installer insists on the hashes.

The service unpickles what training pickled, so the service lock must carry the same pycaret, scikit-learn,
numpy and pandas as the training lock. The locks are installed with ``--no-deps`` (see docs/development.md,
"Dependency locks"), so a package pinned twice must be pinned alike.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCKS = [
    "requirements.txt",
    "service_requirements.txt",
    "requirements-dev.txt",
    "scripts/lock-tool.txt",
    "scripts/hadolint-tool.txt",
]
SAME_AS_TRAINING = ["pycaret", "scikit-learn", "numpy", "pandas"]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([A-Za-z0-9.+!_-]+)$")
_HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str, source: str = "lock") -> dict[str, str]:
    """``{name: version}`` of a hash-pinned lock file; AssertionError naming the first entry that is not one.

    An entry is a requirement with its continuation lines. Each must be ``name==version`` (an environment
    marker may follow) with at least one ``--hash=sha256:...``, and nothing else.
    """
    entries: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            entries.append((start, pending.strip()))
        pending = ""
    assert not pending.strip(), f"{source}: the last entry ends with a line continuation"
    pins: dict[str, str] = {}
    for number, entry in entries:
        words = shlex.split(entry)
        options = [w for w in words if w.startswith("--")]
        specs = [w for w in words if not w.startswith("--")]
        assert specs, f"{source}:{number}: an entry without a requirement"
        spec = specs[0].split(";")[0]  # an environment marker may follow
        match = _PIN.match(spec)
        assert match, f"{source}:{number}: {spec!r} is not pinned as name==version"
        hashes = [o for o in options if o.startswith("--hash")]
        assert hashes, f"{source}:{number}: {spec} has no --hash"
        bad = [o for o in hashes if not _HASH.match(o)]
        assert not bad, f"{source}:{number}: {spec} has a malformed hash {bad[0]!r}"
        others = [o for o in options if not o.startswith("--hash")]
        assert not others, f"{source}:{number}: {spec} carries an option other than --hash: {others}"
        name = normalise(match.group(1))
        assert name not in pins, f"{source}:{number}: {name} is pinned twice"
        pins[name] = match.group(3)
    return pins


@pytest.mark.parametrize("lock", LOCKS)
def test_every_lock_entry_is_pinned_with_a_hash(lock: str) -> None:
    pins = parse_lock((REPO / lock).read_text(encoding="utf-8"), lock)
    assert len(pins) >= 1


def lock(path: str) -> dict[str, str]:
    return parse_lock((REPO / path).read_text(encoding="utf-8"), path)


def disagreements(training: dict[str, str], other: dict[str, str], names: list[str]) -> list[str]:
    """One line per package of *names* that is missing from either lock or pinned differently."""
    problems = []
    for name in names:
        if name not in training or name not in other:
            problems.append(f"{name}: pinned in only one lock")
        elif other[name] != training[name]:
            problems.append(f"{name}: {other[name]} != training {training[name]}")
    return problems


def test_the_service_lock_unpickles_with_the_training_versions() -> None:
    assert not disagreements(lock("requirements.txt"), lock("service_requirements.txt"), SAME_AS_TRAINING)


@pytest.mark.parametrize("path", ["service_requirements.txt", "requirements-dev.txt"])
def test_locks_installed_with_the_training_lock_agree_with_it(path: str) -> None:
    training, other = lock("requirements.txt"), lock(path)
    assert not disagreements(training, other, sorted(training.keys() & other.keys()))


GOOD = "numpy==1.26.4 \\\n    --hash=sha256:" + "a" * 64 + " \\\n    --hash=sha256:" + "b" * 64 + "\n    # via pandas\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("numpy==1.26.4\n", "has no --hash"),
        ("numpy==1.26.4 \\\n    # via pandas\n", "has no --hash"),
        ("numpy>=1.26 \\\n    --hash=sha256:" + "a" * 64 + "\n", "is not pinned"),
        ("numpy==1.26.4 --hash=md5:abc\n", "malformed hash"),
        ("numpy==1.26.4 --hash=sha256:" + "a" * 64 + " --index-url=http://x\n", "other than --hash"),
        ("-e .\n", "is not pinned"),
        ("    --hash=sha256:" + "a" * 64 + "\n", "without a requirement"),
        (GOOD + GOOD, "pinned twice"),
    ],
)
def test_the_lock_check_fails_on_an_unhashed_or_loose_entry(text: str, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        parse_lock(text)
    assert parse_lock(GOOD) == {"numpy": "1.26.4"}


def test_the_version_check_fails_when_the_locks_disagree() -> None:
    training = lock("requirements.txt")
    service = dict(lock("service_requirements.txt"), **{"scikit-learn": "1.5.0"})
    del service["pandas"]
    assert disagreements(training, service, SAME_AS_TRAINING) == [
        f"scikit-learn: 1.5.0 != training {training['scikit-learn']}",
        "pandas: pinned in only one lock",
    ]


def pip_install_commands(text: str) -> list[str]:
    """Every ``pip install`` command in a Makefile/Dockerfile/shell text, with line continuations joined."""
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    return [line for line in lines if re.search(r"(pip3?|PIP\)) install", line) and "echo " not in line]


@pytest.mark.parametrize(
    "path", ["Makefile", "Dockerfile", ".ci/run", "scripts/install_deploy_tools.sh", "scripts/lock.sh"]
)
def test_installers_require_the_hashes(path: str) -> None:
    """Every install from a lock file demands hashes; the only other install is the project itself."""
    commands = [c for c in pip_install_commands((REPO / path).read_text(encoding="utf-8")) if not c.startswith("#")]
    if path == ".ci/run":
        text = (REPO / path).read_text(encoding="utf-8")
        assert not commands, "CI installs through `make install` only"
        assert re.search(r"(?m)^make install$", text)
        return
    assert commands, f"no pip install in {path}"
    for command in commands:
        if "-e ." in command:  # the checkout itself: no file to hash, so nothing may come with it
            assert "--no-deps" in command and "--no-build-isolation" in command, command
            continue
        assert "--require-hashes" in command and " -r " in command, f"{path}: {command}"
