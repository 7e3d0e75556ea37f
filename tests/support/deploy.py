"""Readers for the deployment files, shared by the tests in tests/deploy.

Each reader fails loudly (an assertion naming the file) when its file is missing: a deployment check that
cannot find what it checks has found a defect, so nothing here ever skips.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "kubernetes"
MANIFESTS = ("namespace.yaml", "model_service.yaml")
# Oldest and newest Kubernetes versions the manifests must be valid for (scripts/install_deploy_tools.sh
# converts the schemas of exactly these).
KUBERNETES_VERSIONS = ("1.30.0", "1.34.0")
TOOLS = Path(os.environ.get("DRM_TOOLS") or Path.home() / ".cache" / "drm-tools")
INSTALL_HINT = "run: bash scripts/install_deploy_tools.sh"


def repo_file(relative: str) -> Path:
    """A file of the repository that must exist."""
    path = REPO / relative
    assert path.is_file(), f"{relative} is missing"
    return path


def tool(name: str) -> Path:
    """A binary installed by scripts/install_deploy_tools.sh (or on PATH); missing is a failure."""
    installed = TOOLS / "bin" / name
    if installed.is_file() and os.access(installed, os.X_OK):
        return installed
    found = shutil.which(name)
    assert found, f"{name} is not installed in {TOOLS / 'bin'} nor on PATH; {INSTALL_HINT}"
    return Path(found)


def schema_location() -> str:
    """kubeconform's -schema-location for the local, offline schema copies."""
    root = TOOLS / "kubernetes-json-schema"
    for version in KUBERNETES_VERSIONS:
        assert (root / f"v{version}-strict" / ".complete").is_file(), (
            f"no Kubernetes {version} schemas in {root}; {INSTALL_HINT}"
        )
    return str(root / "{{ .NormalizedKubernetesVersion }}-strict" / "{{ .ResourceKind }}{{ .KindSuffix }}.json")


def minio_chart() -> Path:
    chart = TOOLS / "charts" / "minio"
    assert (chart / "Chart.yaml").is_file(), f"MinIO chart not found at {chart}; {INSTALL_HINT}"
    return chart


def kubeconform(paths_or_stdin: list[str], version: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run kubeconform strictly, offline, with JSON output."""
    command = [
        str(tool("kubeconform")),
        "-strict",
        "-summary",
        "-output",
        "json",
        "-kubernetes-version",
        version,
        "-schema-location",
        schema_location(),
        *paths_or_stdin,
    ]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, check=False, timeout=120)


def load_documents(path: Path) -> list[dict[str, Any]]:
    assert path.is_file(), f"{path.relative_to(REPO)} is missing"
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def manifest(kind: str, file: str = "model_service.yaml") -> dict[str, Any]:
    """The one object of *kind* in kubernetes/<file>."""
    found = [doc for doc in load_documents(KUBERNETES / file) if doc.get("kind") == kind]
    assert len(found) == 1, f"kubernetes/{file} must hold exactly one {kind}, found {len(found)}"
    return found[0]


def deployment() -> dict[str, Any]:
    return manifest("Deployment")


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = deployment()["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    containers = pod_spec()["containers"]
    assert len(containers) == 1, "the Deployment must run exactly one container"
    result: dict[str, Any] = containers[0]
    return result


def container_env() -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container().get("env", [])}


def package_version() -> str:
    """__version__ read from the source, without importing the package."""
    tree = ast.parse(repo_file("diabetes_risk_model/__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, str)
            return value
    raise AssertionError("diabetes_risk_model/__init__.py defines no __version__")


# -- Dockerfile ------------------------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    arguments: str
    line: int
    stage: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/RUN, else None."""
        text = self.arguments.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list) and all(isinstance(item, str) for item in value)
        return value


@dataclass
class Dockerfile:
    instructions: list[Instruction] = field(default_factory=list)

    def __iter__(self) -> Iterator[Instruction]:
        return iter(self.instructions)

    def of(self, keyword: str, stage: int | None = None) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword and (stage is None or i.stage == stage)]

    @property
    def final_stage(self) -> int:
        return max(i.stage for i in self.instructions)


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions with line continuations joined and comments dropped (enough for our checks)."""
    result = Dockerfile()
    stage = -1
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        result.instructions.append(Instruction(keyword, arguments.strip(), start, stage))
    assert not pending, "Dockerfile ends inside a line continuation"
    return result


def dockerfile() -> Dockerfile:
    return parse_dockerfile(repo_file("Dockerfile").read_text(encoding="utf-8"))


def cmd_port(df: Dockerfile) -> int:
    """The --port of the final CMD (uvicorn)."""
    cmds = df.of("CMD", df.final_stage)
    assert cmds, "the final stage has no CMD"
    argv = cmds[-1].exec_form()
    assert argv is not None, "CMD must use the exec (JSON) form so uvicorn is PID 1 and receives SIGTERM"
    assert "--port" in argv, f"CMD does not set --port: {argv}"
    return int(argv[argv.index("--port") + 1])


# -- .dockerignore (Docker's semantics: last matching pattern wins; a match on a parent directory counts) -------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            # "**/" matches any number of directories (including none); a trailing "**" matches everything.
            if pattern.startswith("**/", index):
                parts.append("(?:.*/)?")
                index += 3
            else:
                parts.append(".*")
                index += 2
            continue
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("^" + "".join(parts) + "$")


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
        rules.append((negate, _pattern_regex(pattern)))
    return rules


def dockerignore_excludes(rules: list[tuple[bool, re.Pattern[str]]], path: str) -> bool:
    """True when *path* (relative, '/'-separated) is left out of the build context."""
    parts = path.split("/")
    candidates = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    excluded = False
    for negate, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negate
    return excluded


def parse_placeholders(text: str) -> set[str]:
    """Every ${NAME} in a text."""
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))


def make_variable(name: str) -> str:
    """The default of `NAME ?= value` in make/kube.mk."""
    text = repo_file("make/kube.mk").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(name)}\s*\?=\s*(.*)$", text, flags=re.MULTILINE)
    assert match, f"make/kube.mk does not define {name}"
    return match.group(1).strip()
