"""A malicious pickle whose payload writes a canary file must never run: unsigned, signed with a wrong key,
or signed with the right key but importing os/builtins/subprocess. A control test proves the payload is live
(plain pickle.loads in a subprocess does write the canary), so these tests can fail."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import itsdangerous
import pytest

from diabetes_risk_model.errors import BadSignature, UnknownKey, UnsafeArchive, UnsafePickle
from diabetes_risk_model.signing import Key, Keyring, build_package, verify_package
from diabetes_risk_model.unpickling import restricted_loads
from tests.support.signing import NAME, PV, VERSION, compat_key


class _OsSystem:
    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self):
        return (os.system, (f"touch {self.canary}",))


class _Exec:
    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self):
        return (exec, (f"open({str(self.canary)!r}, 'w').write('pwned')",))


class _Popen:
    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self):
        return (subprocess.Popen, (["touch", str(self.canary)],))


class _Open:
    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self):
        return (open, (str(self.canary), "w"))


PAYLOADS: dict[str, Callable[[Path], object]] = {"os.system": _OsSystem, "exec": _Exec, "Popen": _Popen, "open": _Open}
REFUSED_MODULES = {
    "os.system": {"posix", "os", "nt"},
    "exec": {"builtins"},
    "Popen": {"subprocess"},
    "open": {"io", "builtins"},
}


def _malicious(kind: str, canary: Path) -> bytes:
    return pickle.dumps([{"innocent": 1}, PAYLOADS[kind](canary)], protocol=4)


@pytest.mark.parametrize("kind", PAYLOADS)
def test_control_payload_is_live(tmp_path: Path, kind: str) -> None:
    canary = tmp_path / "canary"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(_malicious(kind, canary))
    code = f"import pickle, time; pickle.loads(open({str(evil)!r}, 'rb').read()); time.sleep(0.3)"
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert canary.exists(), "the malicious payload should work when loaded with plain pickle"


@pytest.mark.parametrize("kind", PAYLOADS)
def test_unsigned_malicious_package(tmp_path: Path, kind: str, verify_ring: Keyring) -> None:
    canary = tmp_path / "canary"
    package = tmp_path / f"{NAME}-{VERSION}-{PV}.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("model.pkl", _malicious(kind, canary))
    with pytest.raises(UnsafeArchive):
        restricted_loads(verify_package(package, verify_ring).model_bytes)
    assert not canary.exists()


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("attacker", ["unknown-id", "same-id-other-secret"])
def test_malicious_package_signed_with_a_wrong_key(
    tmp_path: Path, kind: str, attacker: str, verify_ring: Keyring
) -> None:
    canary = tmp_path / "canary"
    evil = tmp_path / "model.pkl"
    evil.write_bytes(_malicious(kind, canary))
    key_id = "attacker" if attacker == "unknown-id" else "hmac-2026"
    package = build_package(
        tmp_path,
        name=NAME,
        version=VERSION,
        parameters_version=PV,
        model_pickle=evil,
        extra_members={},
        keyring=Keyring([Key.generate(key_id, "hmac-sha256")]),
    )
    with pytest.raises(UnknownKey if attacker == "unknown-id" else BadSignature):
        restricted_loads(verify_package(package, verify_ring).model_bytes)
    assert not canary.exists()


@pytest.mark.parametrize("kind", PAYLOADS)
def test_malicious_package_signed_with_the_right_key(
    tmp_path: Path, kind: str, keyring: Keyring, verify_ring: Keyring
) -> None:
    """A valid signature is not enough: the restricted unpickler refuses the import and names it."""
    canary = tmp_path / "canary"
    evil = tmp_path / "model.pkl"
    evil.write_bytes(_malicious(kind, canary))
    package = build_package(
        tmp_path,
        name=NAME,
        version=VERSION,
        parameters_version=PV,
        model_pickle=evil,
        extra_members={},
        keyring=keyring,
    )
    verified = verify_package(package, verify_ring)
    with pytest.raises(UnsafePickle) as info:
        restricted_loads(verified.model_bytes)
    assert info.value.module in REFUSED_MODULES[kind]
    assert not canary.exists()


@pytest.mark.parametrize("kind", PAYLOADS)
def test_malicious_legacy_package_signed_with_the_legacy_key(tmp_path: Path, kind: str) -> None:
    canary = tmp_path / "canary"
    package = tmp_path / "diabetes_risk_model-0.1.0-2023_03_17.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("signed_model.pkl", itsdangerous.Signer(compat_key()).sign(_malicious(kind, canary)))
    verified = verify_package(package, Keyring.from_env({"PARAMETERS_SIGNING_KEY": compat_key()}))
    with pytest.raises(UnsafePickle):
        restricted_loads(verified.model_bytes)
    assert not canary.exists()


@pytest.mark.parametrize("kind", PAYLOADS)
def test_restricted_loads_directly(tmp_path: Path, kind: str) -> None:
    canary = tmp_path / "canary"
    with pytest.raises(UnsafePickle):
        restricted_loads(_malicious(kind, canary))
    assert not canary.exists()
