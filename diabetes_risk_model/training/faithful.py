"""Step 5, as the original design did it: pickle the model and sign the bytes with an itsdangerous ``Signer``.

Kept so the notebook shows the idea the project grew from — a keyed signature over the pickle, checked
before anything is unpickled — and that it holds: changing or appending a single byte is refused with
``itsdangerous.BadSignature``. The notebook signs with a throwaway key of its own (the demonstration signature is
never shipped); :func:`signing_key_from_env` reads the original design's ``PARAMETERS_SIGNING_KEY`` for callers
that want the original's key.

What it lacks (the manifest, the other files, key ids, versions, rollback protection) is what
:func:`diabetes_risk_model.signing.build_package` adds; the package the project ships is that one, and
this module's signed bytes are only ever a demonstration. Nothing here unpickles anything.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, Signer

from diabetes_risk_model.errors import MissingEnvironmentVariable
from diabetes_risk_model.files import atomic_writer

KEY_ENV = "PARAMETERS_SIGNING_KEY"


def signing_key_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The original design's HMAC secret, from ``PARAMETERS_SIGNING_KEY`` (never from code or notebooks)."""
    env = os.environ if environ is None else environ
    key = env.get(KEY_ENV, "")
    if not key:
        raise MissingEnvironmentVariable(KEY_ENV, "the key the original design's itsdangerous Signer uses")
    return key


def pickle_model(model: Any, path: Path) -> Path:
    """Pickle *model* to *path* (through :func:`diabetes_risk_model.files.atomic_writer`). Returns *path*."""
    path = Path(path)
    with atomic_writer(path) as handle:
        pickle.dump(model, handle, protocol=pickle.DEFAULT_PROTOCOL)
    return path


def sign_legacy(pickled: bytes, key: str) -> bytes:
    """``Signer(key).sign(pickled)``: the pickle bytes, ``.``, then the signature (the original's format)."""
    return Signer(key).sign(pickled)


def unsign_legacy(signed: bytes, key: str) -> bytes:
    """``Signer(key).unsign(signed)``: the pickle bytes, or ``itsdangerous.BadSignature``."""
    return Signer(key).unsign(signed)


@dataclass(frozen=True)
class TamperCheck:
    """One altered copy of the signed bytes and whether ``unsign`` refused it."""

    description: str
    refused: bool
    error: str


def tamper_checks(signed: bytes, key: str) -> list[TamperCheck]:
    """Alter the signed bytes one way at a time (append a byte, flip a byte of the pickle, of the signature)."""
    middle = len(signed) // 3
    first_sig = signed.rindex(b".") + 1
    swapped = b"B" if signed[first_sig : first_sig + 1] == b"A" else b"A"
    variants = {
        "one byte appended": signed + b"\x00",
        f"pickle byte {middle} changed": signed[:middle] + bytes([signed[middle] ^ 0x01]) + signed[middle + 1 :],
        "first signature character changed": signed[:first_sig] + swapped + signed[first_sig + 1 :],
        "signature removed": signed[: first_sig - 1],
    }
    checks = []
    for description, altered in variants.items():
        try:
            unsign_legacy(altered, key)
        except BadSignature as exc:
            checks.append(TamperCheck(description, True, type(exc).__name__))  # message would echo bytes
        else:
            checks.append(TamperCheck(description, False, ""))
    return checks


_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def accepted_signature_variants(signed: bytes, key: str) -> list[bytes]:
    """Copies differing from *signed* only in the last signature character that ``unsign`` still accepts.

    itsdangerous encodes the 20-byte HMAC-SHA1 as 27 unpadded base64 characters (162 bits), so the last
    character carries 2 bits that decoding ignores: 3 altered copies verify. The pickle is unchanged, so this
    is no forgery, but it means "any altered copy is refused" does not hold for the original format — the
    project's verifier must compare the signature bytes exactly, and its own format signs canonical bytes.
    """
    head, last = signed[:-1], signed[-1]
    accepted = []
    for candidate in _BASE64URL:
        if candidate == last:
            continue
        variant = head + bytes([candidate])
        try:
            unsign_legacy(variant, key)
        except BadSignature:
            continue
        accepted.append(variant)
    return accepted
