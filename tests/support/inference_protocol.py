"""Rows and V2 request bodies for the /v2 tests."""

from __future__ import annotations

import random
from typing import Any

from diabetes_risk_model.prediction.schemas import Age, GeneralHealth, Income

FIELDS = ("body_mass_index", "general_health", "age", "income")
DATATYPES = {"body_mass_index": "INT64", "general_health": "BYTES", "age": "BYTES", "income": "BYTES"}


def random_rows(count: int, seed: int, missing: float = 0.2) -> list[dict[str, Any]]:
    """Rows as the existing API takes them; each field is None (not given) with probability *missing*."""
    rng = random.Random(seed)
    choices = {
        "body_mass_index": list(range(15, 61)),
        "general_health": [m.value for m in GeneralHealth],
        "age": [m.value for m in Age],
        "income": [m.value for m in Income],
    }
    return [{f: None if rng.random() < missing else rng.choice(choices[f]) for f in FIELDS} for _ in range(count)]


def infer_body(rows: list[dict[str, Any]], fields: tuple[str, ...] = FIELDS, **extra: Any) -> dict[str, Any]:
    inputs = [
        {"name": f, "shape": [len(rows)], "datatype": DATATYPES[f], "data": [row[f] for row in rows]} for f in fields
    ]
    return {"inputs": inputs, **extra}
