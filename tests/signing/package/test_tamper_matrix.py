"""Generated tamper matrix: every region of a package, each change refused with the precise exception.

The base package is built once (at import, deterministic members and field lengths, its own keyring) so
the cases can be generated from the real byte layout: every byte of every local header, central record and
the end record flipped two ways; samples of every member's data; a quarter of the signature file's (``model.sig``) bytes
plus every byte of its key id; truncation at many offsets; appended and prepended bytes. Structural changes
are expected to be UnsafeArchive, data changes DigestMismatch naming the member, signature-file changes
MalformedBundle when they break its canonical shape, UnknownKey when they leave a well-formed, different key
id, BadSignature otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from diabetes_risk_model.errors import (
    BadSignature,
    DigestMismatch,
    MalformedBundle,
    UnknownKey,
    UnsafeArchive,
    VerificationError,
)
from diabetes_risk_model.signing import verify_package
from diabetes_risk_model.signing.oms._bundle import Bundle
from diabetes_risk_model.signing.package._envelope import KEY_ID
from tests.support.tamper import BASE, MEMBERS, RING
from tests.support.ziptools import regions

LAYOUT = regions(BASE)
ENVELOPE = next(r for r in LAYOUT if r.kind == "data" and r.member == "model.sig")
_KEYID_AT = BASE.index(b'"keyid":"matrix-ec"', ENVELOPE.start) + len(b'"keyid":"')


@dataclass(frozen=True)
class Case:
    id: str
    mutate: str  # flip | truncate | append | prepend
    offset: int
    value: int | bytes
    expected: type[VerificationError]
    member: str | None = None

    def apply(self, data: bytes) -> bytes:
        if self.mutate == "flip":
            assert isinstance(self.value, int)
            return data[: self.offset] + bytes([data[self.offset] ^ self.value]) + data[self.offset + 1 :]
        if self.mutate == "truncate":
            return data[: self.offset]
        assert isinstance(self.value, bytes)
        return data + self.value if self.mutate == "append" else self.value + data


def _signature_expectation(offset: int, mask: int) -> type[VerificationError]:
    """What a flipped byte of model.sig must raise: a shape error, another key, or a failed signature."""
    data = bytearray(BASE[ENVELOPE.start : ENVELOPE.end])
    data[offset - ENVELOPE.start] ^= mask
    try:
        bundle = Bundle.parse_canonical(bytes(data))
    except MalformedBundle:
        return MalformedBundle
    if bundle.keyid != "matrix-ec":
        return UnknownKey if KEY_ID.fullmatch(bundle.keyid) else MalformedBundle
    return BadSignature


def _cases() -> list[Case]:
    cases: list[Case] = []
    for region in LAYOUT:
        if region.kind in ("local-header", "central", "eocd"):
            for offset in range(region.start, region.end):
                for mask in (0x01, 0xFF):
                    cases.append(
                        Case(f"{region.kind}-{region.member}-{offset}-x{mask:02x}", "flip", offset, mask, UnsafeArchive)
                    )
        elif region.member != "model.sig":
            length = region.end - region.start
            picks = sorted({0, 1, length // 3, length // 2, length - 2, length - 1, *range(0, length, 29)})
            for rel in picks:
                for mask in (0x01, 0x80):
                    cases.append(
                        Case(
                            f"data-{region.member}-{rel}-x{mask:02x}",
                            "flip",
                            region.start + rel,
                            mask,
                            DigestMismatch,
                            region.member,
                        )
                    )
    for offset in range(ENVELOPE.start, ENVELOPE.end, 4):
        if _KEYID_AT <= offset < _KEYID_AT + len("matrix-ec"):
            continue
        expected = _signature_expectation(offset, 0x01)
        cases.append(Case(f"signature-{offset - ENVELOPE.start}-x01", "flip", offset, 0x01, expected))
    for index in range(len("matrix-ec")):
        for mask in (0x01, 0x20, 0x80, 0x02):
            expected = _signature_expectation(_KEYID_AT + index, mask)
            cases.append(Case(f"signature-keyid-{index}-x{mask:02x}", "flip", _KEYID_AT + index, mask, expected))
    boundaries = {r.start for r in LAYOUT} | {r.end for r in LAYOUT}
    for offset in sorted(boundaries | set(range(0, len(BASE), 41)) | {1, len(BASE) - 1}):
        if offset < len(BASE):
            cases.append(Case(f"truncate-{offset}", "truncate", offset, 0, UnsafeArchive))
    for extra in (b"\x00", b"PK", b"\x00" * 22, BASE[-22:], b"PK\x05\x06" + b"\x00" * 18, BASE):
        cases.append(Case(f"append-{len(extra)}", "append", 0, extra, UnsafeArchive))
        cases.append(Case(f"prepend-{len(extra)}", "prepend", 0, extra, UnsafeArchive))
    return cases


CASES = _cases()


def test_matrix_is_large_and_covers_every_region() -> None:
    assert len(CASES) >= 1000
    kinds = {c.id.split("-")[0] for c in CASES}
    assert {"local", "central", "eocd", "data", "signature", "truncate", "append", "prepend"} <= kinds
    signature_kinds = {c.expected for c in CASES if c.id.startswith("signature")}
    assert {BadSignature, MalformedBundle, UnknownKey} <= signature_kinds
    assert {c.member for c in CASES if c.expected is DigestMismatch} == set(MEMBERS)


def test_base_package_verifies(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    path.write_bytes(BASE)
    assert verify_package(path, RING).manifest.sequence == 7


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("matrix") / "diabetes_risk_model-0.1.0-2026_11_22.zip"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_tampered_package_is_refused(case: Case, scratch: Path) -> None:
    mutated = case.apply(BASE)
    assert mutated != BASE
    scratch.write_bytes(mutated)
    with pytest.raises(VerificationError) as info:
        verify_package(scratch, RING)
    assert type(info.value) is case.expected, f"{case.id}: got {type(info.value).__name__}: {info.value}"
    if case.member is not None:
        assert info.value.member == case.member  # type: ignore[attr-defined]
