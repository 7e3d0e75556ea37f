"""The tamper matrix's base package: built once at import from fixed members, with its own keyring."""

from __future__ import annotations

import pickle
import random
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from diabetes_risk_model.signing import Key, Keyring, build_package

RING = Keyring([Key.generate("matrix-ec", "ecdsa-p256", created=datetime(2026, 1, 1, tzinfo=UTC))])
MEMBERS = {
    "model.pkl": pickle.dumps({"weights": list(range(200)), "bias": 0.5}, protocol=5),
    "data_report.html": b"<html><body>" + b"<p>profile row</p>" * 100 + b"</body></html>",
    "metrics.json": b'{"auc": 0.82, "f1": 0.75}',
    "plots/auc.png": random.Random(1).randbytes(300),
}


def _build() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = {}
        for name, data in MEMBERS.items():
            paths[name] = root / name.replace("/", "_")
            paths[name].write_bytes(data)
        out = build_package(
            root / "out",
            name="diabetes_risk_model",
            version="0.1.0",
            parameters_version="2026_11_22",
            model_pickle=paths["model.pkl"],
            extra_members={k: v for k, v in paths.items() if k != "model.pkl"},
            keyring=RING,
            sequence=7,
            requirements={"python": "3.11"},
        )
        return out.read_bytes()


BASE = _build()
