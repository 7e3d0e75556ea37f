"""The Dockerfile and .dockerignore: what goes into the image, who runs it, and how it starts."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.deploy import (
    REPO,
    cmd_port,
    container,
    dockerfile,
    dockerignore_excludes,
    dockerignore_rules,
    package_version,
    parse_dockerfile,
    pod_spec,
    repo_file,
    tool,
)

APP = "diabetes_risk_model.service.app:app"
# What the runtime image may receive from the build context, and nothing else.
ALLOWED_SOURCES = {"LICENSE", "service_requirements.txt", "diabetes_risk_model/", "configuration/"}


def test_every_stage_builds_on_python_311_slim() -> None:
    df = dockerfile()
    args = {i.arguments.split("=", 1)[0]: i.arguments.split("=", 1)[1] for i in df.of("ARG", -1) if "=" in i.arguments}
    bases = [i.arguments.split()[0] for i in df.of("FROM")]
    resolved = [args.get(base[2:-1], base) if base.startswith("${") else base for base in bases]
    assert resolved and all(base == "python:3.11-slim" for base in resolved), resolved


def test_final_user_is_a_numeric_non_root_uid_matching_the_pod() -> None:
    df = dockerfile()
    users = df.of("USER", df.final_stage)
    assert users, "the final stage never sets USER: the service would run as root"
    user = users[-1].arguments.split(":")[0]
    assert user.isdigit(), f"USER {user!r} must be numeric so Kubernetes runAsNonRoot can verify it"
    assert int(user) != 0
    # Nothing after the last USER switches back to root.
    last_user_line = users[-1].line
    assert not [i for i in df if i.line > last_user_line and i.keyword == "USER"]
    assert pod_spec()["securityContext"]["runAsUser"] == int(user)


def test_nothing_installs_or_configures_sudo() -> None:
    text = repo_file("Dockerfile").read_text(encoding="utf-8")
    for instruction in dockerfile():
        found = re.search(r"\bsudo(ers)?\b", instruction.arguments)
        assert not found, f"line {instruction.line}: {instruction.arguments}"
    assert "NOPASSWD" not in text


def test_only_the_package_its_configuration_requirements_and_license_are_copied() -> None:
    df = dockerfile()
    for instruction in df.of("COPY") + df.of("ADD"):
        words = [w for w in instruction.arguments.split() if not w.startswith("--")]
        if "--from=builder" in instruction.arguments:
            continue
        assert instruction.keyword == "COPY", f"line {instruction.line}: use COPY, not ADD"
        for source in words[:-1]:
            assert source in ALLOWED_SOURCES, f"line {instruction.line} copies {source!r} into the image"
            assert (REPO / source).exists(), f"line {instruction.line} copies {source}, which is not in the repository"


def test_cmd_runs_uvicorn_with_the_service_app_on_all_interfaces() -> None:
    df = dockerfile()
    argv = df.of("CMD", df.final_stage)[-1].exec_form()
    assert argv is not None
    assert argv[0] == "uvicorn"
    assert argv[1] == APP
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert cmd_port(df) == 8000
    assert not df.of("ENTRYPOINT", df.final_stage), "an ENTRYPOINT would change what CMD means"


def test_cmd_port_is_the_exposed_port_and_the_container_port() -> None:
    df = dockerfile()
    exposed = {int(p.split("/")[0]) for i in df.of("EXPOSE", df.final_stage) for p in i.arguments.split()}
    ports = [p["containerPort"] for p in container()["ports"]]
    assert exposed == {cmd_port(df)} == set(ports)


def test_oci_labels_carry_build_date_and_version() -> None:
    df = dockerfile()
    final = df.final_stage
    args = {i.arguments.split("=", 1)[0] for i in df.of("ARG", final)}
    assert {"BUILD_DATE", "VERSION"} <= args
    labels = " ".join(i.arguments for i in df.of("LABEL", final))
    assert 'org.opencontainers.image.created="${BUILD_DATE}"' in labels
    assert 'org.opencontainers.image.version="${VERSION}"' in labels
    assert "org.opencontainers.image.licenses=" in labels
    default_version = [i.arguments.split("=", 1)[1] for i in df.of("ARG", final) if i.arguments.startswith("VERSION=")]
    assert default_version == [package_version()]


def test_requirements_come_from_the_pinned_service_requirements() -> None:
    df = dockerfile()
    installs = [i for i in df.of("RUN") if "pip install" in i.arguments]
    assert installs, "no pip install in the Dockerfile"
    for instruction in installs:
        assert "-r /tmp/service_requirements.txt" in instruction.arguments, instruction.arguments
    requirements = repo_file("service_requirements.txt").read_text(encoding="utf-8")
    pins = {}
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        assert "==" in line, f"service_requirements.txt: {line!r} is not pinned with =="
        name, version = line.split("==", 1)
        pins[re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()] = version.split(";")[0].split()[0]
    assert pins.get("pycaret") == "3.3.2"
    assert pins.get("scikit-learn") == "1.4.2"
    assert "uvicorn" in pins


def test_the_parser_sees_what_hadolint_sees() -> None:
    """Our checks read the Dockerfile through parse_dockerfile; make sure it is not fooled by continuations."""
    parsed = parse_dockerfile("FROM a\n# c\nRUN x \\\n  # inner comment\n  && sudo y\nUSER 0\n")
    assert [i.keyword for i in parsed] == ["FROM", "RUN", "USER"]
    assert "sudo y" in parsed.of("RUN")[0].arguments


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [str(tool("hadolint")), "--no-color", "--failure-threshold", "info", "Dockerfile"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_root_user_and_sudo(tmp_path: Path) -> None:
    """The linter really reads the file: the original design's ending (sudo installed, root user) is refused."""
    bad = (
        repo_file("Dockerfile")
        .read_text(encoding="utf-8")
        .replace("USER 10001:10001", "RUN apt-get update && apt-get install -y sudo\nUSER root")
    )
    (tmp_path / "Dockerfile").write_text(bad, encoding="utf-8")
    result = subprocess.run(
        [str(tool("hadolint")), "--no-color", "Dockerfile"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DL3002" in result.stdout, result.stdout  # Last USER should not be root


@pytest.mark.parametrize(
    "path",
    [
        "data/diabetes.csv",
        "diabetes_binary_5050split_health_indicators_BRFSS2015.csv",
        "notebooks/train.ipynb",
        "tests/deploy/test_deploy_dockerfile.py",
        "benchmarks/bench_verify.py",
        ".keys/keyring.json",
        "signing.key",
        "private.pem",
        "keys/release-keyring.json",
        ".venv/bin/python",
        "venv/lib/site.py",
        ".env",
        ".git/config",
        "models/diabetes_risk_model-0.1.0-2026_11_22.zip",
        "diabetes_risk_model/__pycache__/__init__.cpython-311.pyc",
        "diabetes_risk_model/signing/test.key",
        "logs.log",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    rules = dockerignore_rules(repo_file(".dockerignore").read_text(encoding="utf-8"))
    assert dockerignore_excludes(rules, path), f"{path} would be sent to the Docker daemon"


def test_dockerignore_lets_in_everything_the_dockerfile_copies() -> None:
    rules = dockerignore_rules(repo_file(".dockerignore").read_text(encoding="utf-8"))
    wanted = ["LICENSE", "service_requirements.txt", "Dockerfile"]
    wanted += [str(p.relative_to(REPO)) for p in (REPO / "diabetes_risk_model").rglob("*.py")]
    wanted += [str(p.relative_to(REPO)) for p in (REPO / "configuration").glob("*.yaml")]
    assert any(w.startswith("configuration/") for w in wanted), "configuration/ has no YAML files"
    left_out = [w for w in wanted if dockerignore_excludes(rules, w)]
    assert not left_out, f"the build would miss {left_out}"


def test_dockerignore_matcher_follows_docker_semantics() -> None:
    rules = dockerignore_rules("**\n!pkg/\npkg/**/*.key\n")
    assert dockerignore_excludes(rules, "other/file.py")
    assert not dockerignore_excludes(rules, "pkg/sub/module.py")
    assert dockerignore_excludes(rules, "pkg/sub/secret.key")
    assert dockerignore_excludes(rules, "pkg/secret.key")


def test_configuration_copied_into_the_image_holds_no_secret() -> None:
    """configuration/ goes into the image: every secret-looking setting there must be a ${NAME} placeholder."""

    def walk(value: object, where: str) -> Iterator[tuple[str, object]]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield from walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, f"{where}[{index}]")
        else:
            yield where, value

    files = sorted((REPO / "configuration").glob("*.yaml"))
    assert files, "configuration/ has no YAML files"
    for path in files:
        for where, value in walk(yaml.safe_load(path.read_text(encoding="utf-8")), path.name):
            name = where.rsplit(".", 1)[-1].lower()
            if any(word in name for word in ("secret", "password", "access_key", "token")) and value is not None:
                assert re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", str(value)), f"{where} is written in the file"
