"""Interop with the OpenSSF Model Signing reference tool (model-signing 1.1.1, a test oracle), both ways.

* It accepts ours: an oms-v1 package signed with an ECDSA key, extracted, passes ``model_signing verify key``;
  after changing a byte of any member, adding or removing a file, it refuses, and so does our verifier on the
  equivalent zip.
* We accept its: the published golden vector (``../shared/oms``, model-signing 1.0.0, P-384, rawBytes form)
  and a directory signed here by ``model_signing sign key`` (hint form, ignored paths) pass ``verify-oms``;
  every one-byte change of the golden vector and tampering, adding, removing files are refused (exit 1).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from diabetes_risk_model.cli import main
from diabetes_risk_model.errors import (
    BadSignature,
    DigestMismatch,
    MalformedBundle,
    MissingMember,
    UnexpectedMember,
    VerificationError,
)
from diabetes_risk_model.signing import Key, Keyring, verify_package
from diabetes_risk_model.signing.oms._verify import verify_model
from tests.support.signing import SHARED
from tests.support.ziptools import members_of, raw_zip

MODEL_SIGNING = Path(sys.executable).parent / "model_signing"
GOLDEN = SHARED / "oms"
GOLDEN_MODEL = GOLDEN / "v1.0.0-elliptic-key" / "signme-1"
GOLDEN_SIG = GOLDEN / "v1.0.0-elliptic-key" / "model.sig"
GOLDEN_KEY = GOLDEN / "signing-key-pub.pem"
model_signing = pytest.importorskip("model_signing")  # the dev dependency is pinned; missing means broken env


@pytest.fixture(scope="module")
def ec_key() -> Key:
    return Key.generate("ec-2026", "ecdsa-p256", created=datetime(2026, 2, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def ec_ring(ec_key: Key) -> Keyring:
    return Keyring([ec_key])


@pytest.fixture(scope="module")
def ec_package(make_package: Callable[..., Path], ec_ring: Keyring) -> Path:
    return make_package(keyring=ec_ring)


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory, ec_key: Key) -> Path:
    path = tmp_path_factory.mktemp("pem") / "pub.pem"
    path.write_bytes(ec_key.public_pem())
    return path


def reference_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MODEL_SIGNING), *args], capture_output=True, text=True, timeout=120, check=False)


def reference_verify(model: Path, signature: Path, pem: Path) -> bool:
    """The reference verifier through its public API (same code path as its CLI, without the process start)."""
    config = model_signing.verifying.Config().use_elliptic_key_verifier(public_key=pem)
    config.set_hashing_config(model_signing.hashing.Config().set_ignored_paths(paths=[signature.name]))
    try:
        config.verify(model, signature)
    except ValueError:
        return False
    return True


def extract(package: Path, into: Path, members: list[tuple[str, bytes, bool]] | None = None) -> Path:
    into.mkdir(parents=True)
    for name, data, _ in members if members is not None else members_of(package.read_bytes()):
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        (into / name).write_bytes(data)
    return into


# -- the reference tool accepts ours --------------------------------------------------------------------------


def test_reference_cli_accepts_our_extracted_package(ec_package: Path, pem: Path, tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    with zipfile.ZipFile(ec_package) as archive:  # an ordinary unzip
        archive.extractall(root)
    result = reference_cli("verify", "key", str(root), "--signature", str(root / "model.sig"), "--public_key", str(pem))
    assert result.returncode == 0, result.stderr
    assert "Verification succeeded" in result.stdout
    (root / "model.pkl").write_bytes((root / "model.pkl").read_bytes() + b"\0")
    result = reference_cli("verify", "key", str(root), "--signature", str(root / "model.sig"), "--public_key", str(pem))
    assert result.returncode != 0


def _variants(base: list[tuple[str, bytes, bool]]) -> dict[str, tuple[list[tuple[str, bytes, bool]], type]]:
    """Tampered member lists: one byte of each member (first, middle, last), one file added, each one removed."""
    *members, signature = base
    out: dict[str, tuple[list[tuple[str, bytes, bool]], type]] = {}
    for i, (name, data, deflate) in enumerate(members):
        for where in sorted({0, len(data) // 2, len(data) - 1}):
            changed = bytearray(data)
            changed[where] ^= 0x01
            variant = [*members[:i], (name, bytes(changed), deflate), *members[i + 1 :], signature]
            out[f"byte-{name}-{where}"] = (variant, DigestMismatch)
        out[f"remove-{name}"] = ([*members[:i], *members[i + 1 :], signature], MissingMember)
    added = sorted([*members, ("extra.txt", b"not signed", False)])
    out["add-extra.txt"] = ([*added, signature], UnexpectedMember)
    return out


def test_reference_and_we_agree_on_every_tampered_package(
    ec_package: Path, ec_ring: Keyring, pem: Path, tmp_path: Path
) -> None:
    base = members_of(ec_package.read_bytes())
    assert reference_verify(extract(ec_package, tmp_path / "base"), tmp_path / "base" / "model.sig", pem)
    variants = _variants(base)
    assert len(variants) >= 15
    for label, (members, expected) in variants.items():
        root = extract(ec_package, tmp_path / label, members)
        assert not reference_verify(root, root / "model.sig", pem), label
        package = tmp_path / f"{label}.zip"
        package.write_bytes(raw_zip([(n.encode(), d, deflate) for n, d, deflate in members]))
        with pytest.raises(VerificationError) as info:
            verify_package(package, ec_ring)
        assert isinstance(info.value, expected), f"{label}: {type(info.value).__name__}: {info.value}"


def test_cli_signed_package_with_p384_key_is_accepted_by_the_reference(
    tmp_path: Path, make_package: Callable[..., Path]
) -> None:
    key = Key.generate("ec-384", "ecdsa-p384")
    package = make_package(keyring=Keyring([key]))
    assert verify_package(package, Keyring([key]).public()).manifest.alg == "ecdsa-p384"
    (tmp_path / "pub.pem").write_bytes(key.public_pem())
    root = extract(package, tmp_path / "x")
    assert reference_verify(root, root / "model.sig", tmp_path / "pub.pem")


# -- we accept the reference tool's signatures ---------------------------------------------------------------


def test_golden_vector_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-oms", str(GOLDEN_MODEL), "--signature", str(GOLDEN_SIG), "--public-key", str(GOLDEN_KEY)]) == 0
    assert "verified: OK" in capsys.readouterr().out


def test_golden_vector_refused_after_any_one_byte_change(tmp_path: Path) -> None:
    model, signature = tmp_path / "signme-1", tmp_path / "model.sig"
    original_model, original_sig = GOLDEN_MODEL.read_bytes(), GOLDEN_SIG.read_bytes()
    key = GOLDEN_KEY.read_bytes()
    model.write_bytes(original_model)
    signature.write_bytes(original_sig)
    verify_model(model, signature, key)
    refused = 0
    for target, original, masks in ((signature, original_sig, (0x01,)), (model, original_model, (0x01, 0x80))):
        for offset in range(len(original)):
            for mask in masks:
                changed = bytearray(original)
                changed[offset] ^= mask
                target.write_bytes(changed)
                with pytest.raises(VerificationError):
                    verify_model(model, signature, key)
                refused += 1
        target.write_bytes(original)
    assert refused == len(original_sig) + 2 * len(original_model)


def test_golden_vector_refused_with_another_key(tmp_path: Path, pem: Path) -> None:
    with pytest.raises(VerificationError):
        verify_model(GOLDEN_MODEL, GOLDEN_SIG, pem.read_bytes())


@pytest.fixture(scope="module")
def reference_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A directory signed by ``model_signing sign key`` (P-256 key made here), with an ignored path."""
    root = tmp_path_factory.mktemp("refsigned")
    private = ec.generate_private_key(ec.SECP256R1())
    (root / "key.pem").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (root / "pub.pem").write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    model = root / "model"
    (model / "weights").mkdir(parents=True)
    (model / "config.json").write_text('{"layers": 2}')
    (model / "weights" / "part-0.bin").write_bytes(bytes(range(256)) * 40)
    (model / "weights" / "part 1.bin").write_bytes(b"\x00" * 999)
    (model / ".gitignore").write_text("*.tmp\n")
    (model / "notes.tmp").write_text("ignored when signing")
    result = reference_cli(
        "sign",
        "key",
        str(model),
        "--private_key",
        str(root / "key.pem"),
        "--signature",
        str(model / "model.sig"),
        "--ignore-paths",
        str(model / "notes.tmp"),
    )
    assert result.returncode == 0, result.stderr
    return model, root / "pub.pem"


def _verify_oms(model: Path, pem: Path, *extra: str) -> int:
    return main(["verify-oms", str(model), "--signature", str(model / "model.sig"), "--public-key", str(pem), *extra])


def test_reference_signed_directory_verifies(reference_signed: tuple[Path, Path]) -> None:
    model, pem = reference_signed
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "diabetes_risk_model",
            "verify-oms",
            str(model),
            "--signature",
            str(model / "model.sig"),
            "--public-key",
            str(pem),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "verified: OK (3 file(s)" in result.stdout
    (model / "notes.tmp").write_text("changed: it is in the signature's ignore_paths")
    assert _verify_oms(model, pem) == 0


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("tamper", "weights/part-0.bin"),
        ("add", "weights/new.bin"),
        ("remove", "config.json"),
        ("add-hidden", ".hidden"),
    ],
)
def test_reference_signed_directory_refused_after_change(
    reference_signed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, named: str
) -> None:
    source, pem = reference_signed
    model = tmp_path / "model"
    subprocess.run(["cp", "-r", str(source), str(model)], check=True)
    target = model / named
    if change == "tamper":
        data = bytearray(target.read_bytes())
        data[100] ^= 0x04
        target.write_bytes(data)
    elif change == "remove":
        target.unlink()
    else:
        target.write_bytes(b"new")
    capsys.readouterr()
    assert _verify_oms(model, pem) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: refused") and named in err
    if change.startswith("add"):  # an added file is accepted only when explicitly ignored
        assert _verify_oms(model, pem, "--ignore-path", str(target)) == 0


def test_reference_signed_single_file(tmp_path: Path, reference_signed: tuple[Path, Path]) -> None:
    _, pem = reference_signed
    key = pem.parent / "key.pem"
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07" * 500)
    result = reference_cli(
        "sign", "key", str(model), "--private_key", str(key), "--signature", str(tmp_path / "model.sig")
    )
    assert result.returncode == 0, result.stderr
    assert verify_model(model, tmp_path / "model.sig", pem.read_bytes()).files == (".",)
    model.write_bytes(b"\x08\x07" * 499)
    with pytest.raises(DigestMismatch):
        verify_model(model, tmp_path / "model.sig", pem.read_bytes())


def test_our_package_signature_is_refused_as_our_format_when_bundle_is_reformatted(
    ec_package: Path, ec_ring: Keyring, tmp_path: Path
) -> None:
    """verify-oms accepts any JSON formatting; our package verifier only the canonical encoding."""
    import json

    members = members_of(ec_package.read_bytes())
    *rest, (name, data, deflate) = members
    pretty = json.dumps(json.loads(data), indent=2).encode()
    package = tmp_path / "p.zip"
    package.write_bytes(raw_zip([(n.encode(), d, f) for n, d, f in [*rest, (name, pretty, deflate)]]))
    with pytest.raises(MalformedBundle):
        verify_package(package, ec_ring)
    root = extract(ec_package, tmp_path / "x", [*rest, (name, pretty, deflate)])
    (tmp_path / "pub.pem").write_bytes(ec_ring.keys[0].public_pem())
    assert verify_model(root, root / "model.sig", (tmp_path / "pub.pem").read_bytes()).files
    assert issubclass(MalformedBundle, BadSignature)
