"""`python -m diabetes_risk_model` through real subprocesses: exit codes, one-line errors, no key material."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from diabetes_risk_model.signing import Keyring
from tests.support.signing import COMPAT_ZIP, REPO, compat_key
from tests.support.ziptools import regions


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"MODEL_KEYRING", "PARAMETERS_SIGNING_KEY", "PARAMETERS_SIGNING_KEY_ID"}
    }
    base["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "diabetes_risk_model", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd or REPO,
        timeout=120,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> None:
    assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("keygen", "sign", "verify", "rotate", "inspect"):
        assert command in result.stdout


def test_compat_package_verifies_with_the_published_key() -> None:
    result = run("verify", str(COMPAT_ZIP), env={"PARAMETERS_SIGNING_KEY": compat_key()})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for line in (
        "name: diabetes_risk_model",
        "version: 0.1.0",
        "parameters version: 2023_03_17",
        "key id: default",
        "member signed_model.pkl: OK",
        "member model.pkl: NOT COVERED",
        "member data_report.html: NOT COVERED",
        "verified: OK",
    ):
        assert line in out
    assert "NOT signed" in out and compat_key() not in out + result.stderr


def test_compat_package_refused_with_another_key() -> None:
    result = run("verify", str(COMPAT_ZIP), env={"PARAMETERS_SIGNING_KEY": compat_key()[::-1]})
    assert_one_line_error(result, 1)
    assert "BadSignature" in result.stderr and compat_key()[::-1] not in result.stderr + result.stdout


def test_verify_without_keys_is_a_configuration_error() -> None:
    result = run("verify", str(COMPAT_ZIP))
    assert_one_line_error(result, 3)
    assert "MODEL_KEYRING" in result.stderr


def test_keygen_sign_verify_rotate_inspect(tmp_path: Path, member_files: dict[str, Path]) -> None:
    ring = tmp_path / "secrets" / "ring.json"
    public = tmp_path / "public.json"
    result = run(
        "keygen", "--alg", "ed25519", "--key-id", "cli-1", "--keyring", str(ring), "--public-keyring", str(public)
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600
    material = [k.get("private", "") for k in json.loads(ring.read_text())["keys"]]
    assert all(m and m not in result.stdout + result.stderr for m in material)
    assert "private" not in public.read_text()

    out_dir = tmp_path / "out"
    result = run(
        "sign",
        "--keyring",
        str(ring),
        "--model",
        str(member_files["model.pkl"]),
        "--member",
        f"data_report.html={member_files['data_report.html']}",
        "--member",
        f"plots/auc.png={member_files['plots/auc.png']}",
        "--output-dir",
        str(out_dir),
        "--parameters-version",
        "2026_11_22",
        "--sequence",
        "5",
    )
    assert result.returncode == 0, result.stderr
    package = out_dir / "diabetes_risk_model-0.1.0-2026_11_22.zip"
    assert package.is_file()

    result = run(
        "verify",
        str(package),
        "--keyring",
        str(public),
        "--name",
        "diabetes_risk_model",
        "--version",
        "0.1.0",
        "--parameters-version",
        "2026_11_22",
        "--min-sequence",
        "5",
    )
    assert result.returncode == 0, result.stderr
    for line in (
        "name: diabetes_risk_model",
        "version: 0.1.0",
        "parameters version: 2026_11_22",
        "key id: cli-1 (ed25519)",
        "member model.pkl: OK",
        "member data_report.html: OK",
        "member plots/auc.png: OK",
        "verified: OK",
    ):
        assert line in result.stdout

    result = run(
        "verify",
        str(package),
        "--keyring",
        str(public),
        "--name",
        "diabetes_risk_model",
        "--version",
        "0.1.0",
        "--parameters-version",
        "2026_11_22",
        "--min-sequence",
        "6",
    )
    assert_one_line_error(result, 1)
    assert "Rollback" in result.stderr

    result = run("keygen", "--alg", "hmac", "--key-id", "cli-2", "--keyring", str(ring))
    assert result.returncode == 0, result.stderr
    result = run("rotate", str(package), "--keyring", str(ring))
    assert result.returncode == 0 and "cli-2" in result.stdout, result.stderr
    assert run("retire", "cli-1", "--keyring", str(ring)).returncode == 0
    result = run("verify", str(package), "--keyring", str(ring))
    assert result.returncode == 0 and "key id: cli-2 (hmac-sha256)" in result.stdout

    result = run("inspect", str(package))
    assert result.returncode == 0 and "UNVERIFIED" in result.stdout and "claims sequence: 5" in result.stdout


def test_verify_reports_each_mismatching_member(tmp_path: Path, base_package: Path, keyring: Keyring) -> None:
    ring = keyring.save(tmp_path / "ring.json")
    data = bytearray(base_package.read_bytes())
    for region in regions(bytes(data)):
        if region.kind == "data" and region.member in ("model.pkl", "plots/auc.png"):
            data[region.start + 5] ^= 1
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(bytes(data))
    result = run("verify", str(tampered), "--keyring", str(ring))
    assert_one_line_error(result, 1)
    assert "member model.pkl: MISMATCH" in result.stdout
    assert "member plots/auc.png: MISMATCH" in result.stdout
    assert "member metrics.json: OK" in result.stdout
    assert "DigestMismatch" in result.stderr and "model.pkl" in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("verify", "/nonexistent/package.zip", "--keyring", "/nonexistent/ring.json"), 3),
        (("verify",), 2),
        (("frobnicate",), 2),
        (("keygen", "--key-id", "bad id!", "--keyring", "/tmp/x-never-written.json"), 3),
        (("verify", str(COMPAT_ZIP), "--name", "x"), 2),
    ],
)
def test_errors_are_one_readable_line(args: tuple[str, ...], code: int) -> None:
    result = run(*args, env={"PARAMETERS_SIGNING_KEY": compat_key()})
    assert result.returncode == code
    assert "Traceback" not in result.stderr
    assert compat_key() not in result.stderr + result.stdout
    if code != 2:
        assert_one_line_error(result, code)


def test_keygen_refuses_to_write_into_the_repository() -> None:
    target = REPO / "keys-should-not-exist.json"
    result = run("keygen", "--key-id", "x", "--keyring", str(target))
    assert_one_line_error(result, 3)
    assert "git work tree" in result.stderr
    assert not target.exists()


def test_verify_tampered_package_never_prints_unverified_bytes(
    tmp_path: Path, base_package: Path, keyring: Keyring
) -> None:
    ring = keyring.save(tmp_path / "ring.json")
    data = bytearray(base_package.read_bytes())
    marker = b'"keyid":"'
    at = data.index(marker) + len(marker)
    data[at : at + 7] = b"EVILkey"  # same length, a key id nobody knows
    path = tmp_path / "evil.zip"
    path.write_bytes(bytes(data))
    result = run("verify", str(path), "--keyring", str(ring))
    assert_one_line_error(result, 1)
    assert "UnknownKey" in result.stderr
