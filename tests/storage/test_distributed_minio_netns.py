"""``test_distributed_minio.py`` inside a network namespace that this test creates (only where MinIO sees a
container; ``tests/storage/conftest.py`` deselects this test elsewhere, and the module's own tests here).

The namespace holds ``lo`` and one RFC 2544 test address (``tests.support.netns``); the MinIO
nodes, the service under test and every client run inside it, in a new pytest whose output is forwarded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.support.netns import in_namespace_command, namespace_env

REPO_ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTED = Path(__file__).with_name("test_distributed_minio.py")


def distributed_test_names(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_the_distributed_minio_tests_pass_inside_a_network_namespace_of_their_own(
    pytestconfig: pytest.Config, tmp_path: Path
) -> None:
    junit = tmp_path / "inner.xml"
    inner = [sys.executable, "-m", "pytest", str(DISTRIBUTED), "-q", "-p", "no:cacheprovider", "-rfEs"]
    inner += [f"--junitxml={junit}", f"--basetemp={tmp_path / 'inner'}"]
    if pytestconfig.getoption("capture") == "no":
        inner.append("-s")  # the times to ready, as with `pytest -s` directly
    result = subprocess.run(
        in_namespace_command(inner),
        env=namespace_env(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    print(output)  # shown with -s, and in the report of a failure
    assert result.returncode == 0, f"the tests inside the namespace failed:\n{output[-6000:]}"

    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert {case.get("name") for case in suite.iter("testcase")} == distributed_test_names(DISTRIBUTED), output[-3000:]
    assert [suite.get(what) for what in ("failures", "errors", "skipped")] == ["0", "0", "0"], output[-3000:]
