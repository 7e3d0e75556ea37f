"""Keys and the keyring: which key may sign, which may only verify, which are retired.

:mod:`.ec` fixes how ECDSA is used (curve → hash, DER, low-S, the OMS key hint); :class:`Key` is one key with
its id; :class:`Keyring` holds keys by id and is read from a file, settings or the environment.
"""

from diabetes_risk_model.signing.keys import _ec as ec
from diabetes_risk_model.signing.keys._key import (
    ALGORITHMS,
    ECDSA_ALGORITHMS,
    ECDSA_P256,
    ED25519,
    EPOCH,
    HMAC_SHA256,
    KEY_ID,
    Key,
)
from diabetes_risk_model.signing.keys._keyring import Keyring, inside_git_work_tree

__all__ = [
    "ALGORITHMS",
    "ECDSA_ALGORITHMS",
    "ECDSA_P256",
    "ED25519",
    "EPOCH",
    "HMAC_SHA256",
    "KEY_ID",
    "Key",
    "Keyring",
    "ec",
    "inside_git_work_tree",
]
