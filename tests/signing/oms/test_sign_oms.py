"""``sign-oms key`` over any file or directory, and what ``verify-oms`` now enforces: attacks first (a leaked
key signing an empty model, links, undecodable names), then the spec's enumeration rules, then interop with
``model_signing verify key`` (the reference, a test oracle)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec as _ec

from diabetes_risk_model.cli import main
from diabetes_risk_model.errors import (
    DigestMismatch,
    EmptyModel,
    MalformedBundle,
    MissingMember,
    UnexpectedMember,
    UnsafeResourceName,
)
from diabetes_risk_model.signing.keys import ec
from diabetes_risk_model.signing.oms import Bundle, OmsSigner, canonical_json, pae, sign_model, verify_model
from tests.support.oms_spec import statement_of

MODEL_SIGNING = Path(sys.executable).parent / "model_signing"
KEY = _ec.generate_private_key(_ec.SECP256R1())
SIGNER = OmsSigner(KEY)
PUB = ec.public_pem(KEY.public_key())


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "key.pem", tmp_path / "pub.pem"
    private.write_bytes(
        KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(PUB)
    return private, public


def _model(root: Path) -> Path:
    (root / "weights").mkdir(parents=True)
    (root / "config.json").write_text('{"layers": 2}')
    (root / "weights" / "part-0.bin").write_bytes(bytes(range(256)) * 4)
    return root


def _statement(signature: Path) -> dict:
    return statement_of(json.loads(signature.read_bytes()))


# -- attacks ---------------------------------------------------------------------------------------------------


def test_a_leaked_key_signing_zero_resources_over_an_empty_directory_is_refused(tmp_path: Path) -> None:
    """Without the §5.2.1 rule, this statement 'verifies' an empty (or emptied) model directory."""
    empty = tmp_path / "empty"
    empty.mkdir()
    payload = canonical_json(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "predicate": {
                "resources": [],
                "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
            },
            "predicateType": "https://model_signing/signature/v1.0",
            "subject": [{"digest": {"sha256": hashlib.sha256(b"").hexdigest()}, "name": "empty"}],
        }
    )
    (tmp_path / "model.sig").write_bytes(
        Bundle(payload, ec.sign(KEY, pae(payload)), hint=ec.hint(KEY.public_key())).to_bytes()
    )
    with pytest.raises(MalformedBundle, match="resources is empty"):
        verify_model(empty, tmp_path / "model.sig", PUB)


def test_empty_models_links_and_undecodable_names_are_not_signed(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    private, _ = keys
    empty = tmp_path / "empty"
    (empty / ".git").mkdir(parents=True)
    (empty / ".git" / "HEAD").write_text("ref")  # ignored by default: nothing is left to sign
    with pytest.raises(EmptyModel):
        sign_model(empty, tmp_path / "e.sig", SIGNER)
    cli = ["sign-oms", "key", str(empty), "--signature", str(tmp_path / "e.sig"), "--private-key", str(private)]
    assert main(cli) == 1
    assert capsys.readouterr().err.startswith("error: refused (EmptyModel)")
    model = _model(tmp_path / "model")
    (model / "link").symlink_to(model / "config.json")
    with pytest.raises(UnsafeResourceName, match="symbolic link"):
        sign_model(model, tmp_path / "m.sig", SIGNER)
    (model / "link").unlink()
    os.close(os.open(os.path.join(os.fsencode(model), b"bad-\xff.bin"), os.O_CREAT | os.O_WRONLY, 0o600))
    with pytest.raises(UnsafeResourceName, match="UTF-8"):
        sign_model(model, tmp_path / "m.sig", SIGNER)
    assert not (tmp_path / "m.sig").exists() and not (tmp_path / "e.sig").exists()


def test_ignore_unsigned_files_still_checks_every_signed_file(tmp_path: Path) -> None:
    model = _model(tmp_path / "model")
    sign_model(model, model / "model.sig", SIGNER)
    (model / "added.bin").write_bytes(b"planted")
    with pytest.raises(UnexpectedMember):
        verify_model(model, model / "model.sig", PUB)
    result = verify_model(model, model / "model.sig", PUB, ignore_unsigned_files=True)
    assert result.files == ("config.json", "weights/part-0.bin") and result.unsigned == ("added.bin",)
    (model / "config.json").write_text("{}")
    with pytest.raises(DigestMismatch):
        verify_model(model, model / "model.sig", PUB, ignore_unsigned_files=True)
    (model / "config.json").unlink()
    with pytest.raises(MissingMember):
        verify_model(model, model / "model.sig", PUB, ignore_unsigned_files=True)


# -- what is signed --------------------------------------------------------------------------------------------


def test_git_paths_are_ignored_at_the_top_level_only(tmp_path: Path) -> None:
    model = _model(tmp_path / "model")
    (model / ".gitignore").write_text("*.tmp")
    (model / ".github").mkdir()
    (model / ".github" / "ci.yml").write_text("x")
    (model / "weights" / ".gitignore").write_text("nested: signed (spec §6.2.1)")
    sign_model(model, model / "model.sig", SIGNER)
    names = [r["name"] for r in _statement(model / "model.sig")["predicate"]["resources"]]
    assert names == ["config.json", "weights/.gitignore", "weights/part-0.bin"]
    sign_model(model, tmp_path / "all.sig", SIGNER, ignore_git_paths=False)
    statement = _statement(tmp_path / "all.sig")
    assert ".gitignore" in [r["name"] for r in statement["predicate"]["resources"]]
    assert statement["predicate"]["serialization"].get("ignore_paths") is None
    verify_model(model, tmp_path / "all.sig", PUB, ignore_git_paths=False)


def test_single_file_is_named_by_its_basename_and_dot_form_also_verifies(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07" * 100)
    sign_model(model, tmp_path / "model.sig", SIGNER)
    statement = _statement(tmp_path / "model.sig")
    assert [r["name"] for r in statement["predicate"]["resources"]] == ["model.onnx"]
    assert statement["subject"][0]["name"] == "model.onnx"
    assert verify_model(model, tmp_path / "model.sig", PUB).files == ("model.onnx",)
    sign_model(model, tmp_path / "dot.sig", SIGNER, dot_single_file=True)
    assert verify_model(model, tmp_path / "dot.sig", PUB).files == (".",)
    renamed = tmp_path / "renamed.onnx"
    renamed.write_bytes(model.read_bytes())
    with pytest.raises(MissingMember):  # the spec form binds the file name
        verify_model(renamed, tmp_path / "model.sig", PUB)


def test_cli_sign_then_verify_with_ignored_paths(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    model = _model(tmp_path / "model")
    (model / "cache").mkdir()
    (model / "cache" / "x.tmp").write_text("scratch")
    sign = ["sign-oms", "key", str(model), "--signature", str(model / "model.sig"), "--private_key", str(private)]
    assert main([*sign, "--ignore-paths", str(model / "cache")]) == 0
    assert "signed:" in capsys.readouterr().out
    assert _statement(model / "model.sig")["predicate"]["serialization"]["ignore_paths"][-2:] == ["cache", "model.sig"]
    (model / "cache" / "x.tmp").write_text("changed: recorded as ignored in the signature")
    verify = ["verify-oms", str(model), "--signature", str(model / "model.sig"), "--public-key", str(public)]
    assert main(verify) == 0
    (model / "new.bin").write_bytes(b"x")
    assert main(verify) == 1
    assert main([*verify, "--ignore-unsigned-files"]) == 0
    assert "1 unsigned file(s) not checked" in capsys.readouterr().out
    assert main(["sign-oms", "key", str(model), "--signature", "x.sig", "--private-key", str(public)]) == 3


# -- interop: model_signing verify key accepts what we sign --------------------------------------------------


def _reference_verify(model: Path, signature: Path, public: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MODEL_SIGNING), "verify", "key", str(model), "--signature", str(signature), "--public_key", str(public)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_reference_verifies_our_key_signatures(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    _, public = keys
    model = _model(tmp_path / "model")
    (model / ".gitignore").write_text("*.tmp")
    (model / "cache").mkdir()
    (model / "cache" / "x.tmp").write_text("scratch")
    sign_model(model, model / "model.sig", SIGNER, [model / "cache"])
    assert _reference_verify(model, model / "model.sig", public).returncode == 0
    (model / "weights" / "part-0.bin").write_bytes(b"changed")
    assert _reference_verify(model, model / "model.sig", public).returncode == 1
    single = tmp_path / "model.onnx"
    single.write_bytes(b"onnx")
    sign_model(single, tmp_path / "dot.sig", SIGNER, dot_single_file=True)
    assert _reference_verify(single, tmp_path / "dot.sig", public).returncode == 0
    sign_model(single, tmp_path / "spec.sig", SIGNER)
    refused = _reference_verify(single, tmp_path / "spec.sig", public)  # model_signing 1.1.1 expects "."
    assert refused.returncode == 1 and "Missing files in model" in refused.stderr
