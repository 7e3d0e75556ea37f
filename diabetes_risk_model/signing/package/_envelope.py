"""The signed envelope stored as ``manifest.json`` (DSSE-shaped).

``{"payload": base64(manifest), "payloadType": ..., "signatures": [{"alg", "keyid", "sig"}]}``, written as
canonical JSON. The signature covers the DSSE pre-authentication encoding (PAE) of payloadType and payload,
so the type cannot be swapped and the lengths are unambiguous. Exactly one signature: a package is signed
by one key, and the verifier uses the key the envelope names (never "try every key").

Parsing is strict and canonical: the bytes must be exactly the canonical encoding of what they parse to,
otherwise two different files would carry the same signature. Any malformation is a
:class:`~diabetes_risk_model.errors.BadSignature` whose message contains nothing from the file.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from diabetes_risk_model.errors import BadSignature
from diabetes_risk_model.signing.keys import KEY_ID
from diabetes_risk_model.signing.oms import canonical_json

PAYLOAD_TYPE = "application/vnd.diabetes-risk-model.manifest+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 <len> <type> <len> <payload>``."""
    kind = payload_type.encode("ascii")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Envelope:
    """A payload and its one signature."""

    payload: bytes
    payload_type: str
    key_id: str
    alg: str
    sig: bytes

    def signed_bytes(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "payload": base64.b64encode(self.payload).decode("ascii"),
                "payloadType": self.payload_type,
                "signatures": [
                    {"alg": self.alg, "keyid": self.key_id, "sig": base64.b64encode(self.sig).decode("ascii")}
                ],
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Parse and check canonical form; the key id is validated so it may appear in later messages."""
        malformed = BadSignature("manifest envelope is malformed")
        try:
            raw = json.loads(data.decode("ascii"))
            if not isinstance(raw, dict) or set(raw) != {"payload", "payloadType", "signatures"}:
                raise malformed
            sigs = raw["signatures"]
            if not isinstance(sigs, list) or len(sigs) != 1:
                raise BadSignature("manifest envelope must carry exactly one signature")
            sig = sigs[0]
            if not isinstance(sig, dict) or set(sig) != {"alg", "keyid", "sig"}:
                raise malformed
            if not all(isinstance(v, str) for v in (raw["payload"], raw["payloadType"], *sig.values())):
                raise malformed
            if raw["payloadType"] != PAYLOAD_TYPE:
                raise BadSignature("manifest envelope has an unexpected payload type")
            if not KEY_ID.fullmatch(sig["keyid"]):
                raise BadSignature("manifest envelope names an invalid key id")
            envelope = cls(
                payload=base64.b64decode(raw["payload"], validate=True),
                payload_type=raw["payloadType"],
                key_id=sig["keyid"],
                alg=sig["alg"],
                sig=base64.b64decode(sig["sig"], validate=True),
            )
        except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError):
            raise malformed from None
        if envelope.to_bytes() != data:
            raise BadSignature("manifest envelope is not in canonical form")
        return envelope
