"""Hostile OMS signatures: each is refused by ``verify-oms`` with its own VerificationError subclass, one line,
exit 1, never a traceback. The attacker here can write the model directory and the signature file, and may
even hold a signing key the verifier does not trust."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec as _ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from diabetes_risk_model.cli import main
from diabetes_risk_model.errors import (
    BadSignature,
    InconsistentStatement,
    MalformedBundle,
    UnsafeResourceName,
    UnsupportedKey,
    VerificationError,
)
from diabetes_risk_model.signing.keys import _ec as ec
from diabetes_risk_model.signing.oms._bundle import Bundle, pae, pae_compat
from diabetes_risk_model.signing.oms._statement import Resource, statement_json
from diabetes_risk_model.signing.oms._verify import verify_model

KEY = _ec.generate_private_key(_ec.SECP256R1())
OTHER = _ec.generate_private_key(_ec.SECP256R1())
DIGEST = "ab" * 32


def _statement(**overrides: Any) -> dict[str, Any]:
    data = statement_json("m", [Resource("a.bin", DIGEST)])
    data.update(overrides)
    return data


def _bundle(statement: dict[str, Any] | bytes, *, signer: _ec.EllipticCurvePrivateKey = KEY, **fields: Any) -> bytes:
    payload = statement if isinstance(statement, bytes) else json.dumps(statement).encode()
    raw = json.loads(Bundle(payload, ec.sign(signer, pae(payload)), hint=ec.hint(KEY.public_key())).to_bytes())
    for path, value in fields.items():
        node = raw
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return json.dumps(raw).encode()


def _with_resources(*names: str) -> dict[str, Any]:
    return statement_json("m", [Resource(n, DIGEST) for n in names])


def _signed_in_order(names: list[str]) -> dict[str, Any]:
    """A statement whose resources are in the given order (duplicates allowed), digest made consistent."""
    data = statement_json("m", [Resource(n, DIGEST) for n in names])
    data["predicate"]["resources"] = [Resource(n, DIGEST).to_json() for n in names]
    return data


def _second_signature(data: bytes) -> bytes:
    raw = json.loads(data)
    sigs = raw["dsseEnvelope"]["signatures"]
    payload = base64.b64decode(raw["dsseEnvelope"]["payload"])
    theirs = {"keyid": "", "sig": base64.b64encode(ec.sign(OTHER, pae(payload))).decode()}
    raw["dsseEnvelope"]["signatures"] = [theirs, *sigs]  # first one is not ours
    return json.dumps(raw).encode()


def _bad_digest() -> dict[str, Any]:
    data = _statement()
    data["subject"][0]["digest"]["sha256"] = "cd" * 32
    return data


CASES: dict[str, tuple[Callable[[], bytes], type[VerificationError]]] = {
    "not-json": (lambda: b"\x00not json{", MalformedBundle),
    "json-not-object": (lambda: b"[1, 2]", MalformedBundle),
    "wrong-media-type": (
        lambda: _bundle(_statement(), mediaType="application/vnd.dev.sigstore.bundle.v0.2+json"),
        MalformedBundle,
    ),
    "wrong-payload-type": (
        lambda: _bundle(_statement(), **{"dsseEnvelope.payloadType": "text/plain"}),
        MalformedBundle,
    ),
    "wrong-predicate-type": (
        lambda: _bundle(_statement(predicateType="https://slsa.dev/provenance/v1")),
        MalformedBundle,
    ),
    "wrong-statement-type": (lambda: _bundle(_statement(_type="https://in-toto.io/Statement/v0.1")), MalformedBundle),
    "payload-not-json": (lambda: _bundle(b"\xff\xfe"), MalformedBundle),
    "unknown-field": (lambda: _bundle(_statement(), **{"verificationMaterial.certificate": {}}), MalformedBundle),
    "dot-dot": (lambda: _bundle(_with_resources("../etc/passwd")), UnsafeResourceName),
    "dot-dot-inside": (lambda: _bundle(_with_resources("a/../../b")), UnsafeResourceName),
    "absolute": (lambda: _bundle(_with_resources("/etc/passwd")), UnsafeResourceName),
    "backslash": (lambda: _bundle(_with_resources("a\\b")), UnsafeResourceName),
    "duplicate": (lambda: _bundle(_signed_in_order(["a.bin", "a.bin"])), UnsafeResourceName),
    "empty-segment": (lambda: _bundle(_with_resources("a//b")), UnsafeResourceName),
    "control-char": (lambda: _bundle(_with_resources("a\nb")), UnsafeResourceName),
    "not-der": (
        lambda: _bundle(_statement(), **{"dsseEnvelope.signatures": [{"sig": base64.b64encode(b"0\x03abc").decode()}]}),
        BadSignature,
    ),
    "der-trailing-bytes": (
        lambda: _bundle(
            _statement(),
            **{
                "dsseEnvelope.signatures": [
                    {"sig": base64.b64encode(ec.sign(KEY, b"x") + b"\x00").decode(), "keyid": ""}
                ]
            },
        ),
        BadSignature,
    ),
    "subject-digest-mismatch": (lambda: _bundle(_bad_digest()), InconsistentStatement),
    "first-signature-not-ours": (lambda: _second_signature(_bundle(_statement())), BadSignature),
    "signed-by-another-key": (lambda: _bundle(_statement(), signer=OTHER), BadSignature),
    "hint-of-another-key": (
        lambda: _bundle(_statement(), **{"verificationMaterial.publicKey": {"hint": ec.hint(OTHER.public_key())}}),
        UnsupportedKey,
    ),
    "no-key-material": (lambda: _bundle(_statement(), **{"verificationMaterial.publicKey": {}}), MalformedBundle),
    "sha512-serialization": (
        lambda: _bundle(
            _statement(
                predicate={
                    "resources": [Resource("a.bin", DIGEST).to_json()],
                    "serialization": {"method": "files", "hash_type": "sha512", "allow_symlinks": False},
                }
            )
        ),
        MalformedBundle,
    ),
}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "a.bin").write_bytes(b"payload")
    (tmp_path / "pub.pem").write_bytes(ec.public_pem(KEY.public_key()))
    return root


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_with_one_line(
    case: str, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, expected = CASES[case]
    signature = tmp_path / "model.sig"
    signature.write_bytes(make())
    with pytest.raises(VerificationError) as info:
        verify_model(model, signature, (tmp_path / "pub.pem").read_bytes())
    assert type(info.value) is expected, f"{type(info.value).__name__}: {info.value}"
    code = main(["verify-oms", str(model), "--signature", str(signature), "--public-key", str(tmp_path / "pub.pem")])
    out = capsys.readouterr()
    assert code == 1
    assert out.err.count("\n") == 1 and out.err.startswith(f"error: refused ({expected.__name__})")
    assert "Traceback" not in out.err + out.out


@pytest.mark.parametrize(
    "key",
    [
        _ec.generate_private_key(_ec.SECP256K1()).public_key(),
        _ec.generate_private_key(_ec.SECP224R1()).public_key(),
        Ed25519PrivateKey.generate().public_key(),
    ],
    ids=["secp256k1", "p224", "ed25519"],
)
def test_unsupported_public_keys_are_refused(key: Any, model: Path, tmp_path: Path) -> None:
    signature = tmp_path / "model.sig"
    signature.write_bytes(_bundle(_statement()))
    with pytest.raises(UnsupportedKey):
        verify_model(model, signature, key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(UnsupportedKey):
        verify_model(model, signature, b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")


def test_usage_errors_exit_2(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-oms", str(model), "--signature", str(tmp_path / "absent"), "--public-key", "x"]) == 2
    with pytest.raises(SystemExit) as info:
        main(["verify-oms", str(model)])
    assert info.value.code == 2


def test_symlinks_are_refused(model: Path, tmp_path: Path) -> None:
    signature = tmp_path / "model.sig"
    signature.write_bytes(_bundle(_statement()))
    (model / "link").symlink_to(model / "a.bin")
    with pytest.raises(UnsafeResourceName):
        verify_model(model, signature, (tmp_path / "pub.pem").read_bytes())


def test_model_signing_0_2_signatures_are_accepted(tmp_path: Path) -> None:
    """0.2 signed one subject per file under ``Digests/v0.1`` and over its buggy PAE; the reference still
    verifies those (``pae_compat``, ``dsse_payload_to_manifest_compat``), so do we, and refuse changes."""
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "a.bin").write_bytes(b"alpha")
    (model / "sub" / "b.bin").write_bytes(b"beta")
    subjects = [
        {"name": name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}
        for name, data in (("a.bin", b"alpha"), ("sub/b.bin", b"beta"))
    ]
    payload = json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subjects,
            "predicateType": "https://model_signing/Digests/v0.1",
        }
    ).encode()
    bundle = json.loads(Bundle(payload, ec.sign(KEY, pae_compat(payload)), hint="x").to_bytes())
    del bundle["verificationMaterial"]["publicKey"]["hint"]
    bundle["verificationMaterial"]["publicKey"]["rawBytes"] = base64.b64encode(ec.public_pem(KEY.public_key())).decode()
    signature = tmp_path / "model.sig"
    signature.write_text(json.dumps(bundle))
    result = verify_model(model, signature, ec.public_pem(KEY.public_key()))
    assert result.compat_pae and result.key_form == "rawBytes" and result.files == ("a.bin", "sub/b.bin")
    (model / "sub" / "b.bin").write_bytes(b"BETA")
    with pytest.raises(VerificationError, match=r"sub/b\.bin"):
        verify_model(model, signature, ec.public_pem(KEY.public_key()))
