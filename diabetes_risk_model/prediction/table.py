"""The answer table: every input the API accepts, answered once, so that ``predict()`` is a lookup.

The input space is small (BMI 15-60 or missing x 6 x 14 x 9 = 35,532 combinations), so by default the
pipeline is run once over all of them in a single batch. Batch and single-row predictions are the same
function of the row, which the tests check against the pipeline itself. Without precomputing, each call
builds one prebuilt float64 row (no per-call column building) and runs the pipeline.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from diabetes_risk_model.errors import PredictionError
from diabetes_risk_model.prediction.schemas import (
    API_FEATURES,
    BMI_MAX,
    BMI_MIN,
    FEATURE_COLUMNS,
    Age,
    DiabetesRisk,
    DiabetesRiskModelInput,
    DiabetesRiskModelOutput,
    GeneralHealth,
    Income,
)

_API_INDEXES = [FEATURE_COLUMNS.index(c) for c in API_FEATURES]

#: A key into the answer table: (BMI, GeneralHealth code, Age code, Income code), None = missing.
Key = tuple[int | None, int | None, int | None, int | None]

_GENERAL_HEALTH_CODES: dict[GeneralHealth, int] = {member: member.map() for member in GeneralHealth}
_AGE_CODES: dict[Age, int] = {member: member.map() for member in Age}
_INCOME_CODES: dict[Income, int] = {member: member.map() for member in Income}


def key_for(data: DiabetesRiskModelInput) -> Key:
    """The table key for one input."""
    return (
        data.body_mass_index,
        None if data.general_health is None else _GENERAL_HEALTH_CODES[data.general_health],
        None if data.age is None else _AGE_CODES[data.age],
        None if data.income is None else _INCOME_CODES[data.income],
    )


def all_keys() -> itertools.product[Key]:
    """Every input the API accepts, as table keys (35,532 of them)."""
    return itertools.product(
        [None, *range(BMI_MIN, BMI_MAX + 1)],
        [None, *sorted(_GENERAL_HEALTH_CODES.values())],
        [None, *sorted(_AGE_CODES.values())],
        [None, *sorted(_INCOME_CODES.values())],
    )


#: The answer table's dimensions, in key order: BMI 15-60 or missing, then each enum's codes or missing.
_KEY_SIZES = (BMI_MAX - BMI_MIN + 2, len(GeneralHealth) + 1, len(Age) + 1, len(Income) + 1)
#: Subtracted from a key component to get its index along its dimension (index 0 is "missing").
_KEY_OFFSETS = np.array([BMI_MIN - 1, 0, 0, 0], dtype=np.float64)
_RISK_VALUES = np.array([risk.value for risk in (DiabetesRisk.NO_DIABETES, DiabetesRisk.DIABETES)], dtype=object)


def frame_for(keys: list[Key], columns: pd.Index | None = None) -> pd.DataFrame:
    """A float64 feature frame (NaN = missing) with one row per key, in training column order."""
    columns = pd.Index(FEATURE_COLUMNS) if columns is None else columns
    values = np.full((len(keys), len(columns)), np.nan, dtype=np.float64)
    if keys:
        filled = np.array([[np.nan if v is None else v for v in key] for key in keys], dtype=np.float64)
        values[:, _API_INDEXES] = filled
    return pd.DataFrame(values, columns=columns, copy=False)


def answer_codes(pipeline: Any) -> np.ndarray:
    """The pipeline's label (0 or 1) for every input the API accepts, in :func:`all_keys` order.

    One batch over the whole input space; a label other than 0 or 1 is a :class:`PredictionError`.
    """
    return label_codes(pipeline.predict(frame_for(list(all_keys()))))


def label_codes(labels: Any) -> np.ndarray:
    """Labels as 0/1 codes; any other label is a :class:`PredictionError` naming it."""
    codes = np.asarray(labels, dtype=np.float64)
    bad = codes[(codes != 0) & (codes != 1)]
    if bad.size:
        try:
            DiabetesRisk.map(float(bad[0]))
        except ValueError as exc:
            raise PredictionError(str(exc)) from None
        raise PredictionError(f"the model answered {float(bad[0])!r}, which is not a label (0 or 1)")
    return codes.astype(np.intp)


#: How many inputs the API accepts: the length of an answer table.
TABLE_SIZE = int(np.prod(_KEY_SIZES))


class AnswerTable:
    """Answers for a loaded model: a dictionary over the whole input space, or one pipeline call per key."""

    def __init__(self, pipeline: Any = None, precompute: bool = True, codes: np.ndarray | None = None) -> None:
        """From *codes* (:func:`answer_codes`, computed elsewhere), else from *pipeline*: precomputed, or
        called per key with ``precompute=False``."""
        self._pipeline = pipeline
        self._columns = pd.Index(FEATURE_COLUMNS)
        self._template = np.full((1, len(FEATURE_COLUMNS)), np.nan, dtype=np.float64)
        self._outputs = {risk: DiabetesRiskModelOutput(diabetes_risk=risk) for risk in DiabetesRisk}
        self._table: dict[Key, DiabetesRiskModelOutput] = {}
        self._dense: np.ndarray | None = None  # label codes (0/1) in all_keys() order, for batches
        if codes is None and precompute:
            codes = answer_codes(pipeline)
        if codes is not None:
            if codes.shape != (TABLE_SIZE,):
                raise PredictionError(f"an answer table has {TABLE_SIZE} labels, not {codes.shape}")
            by_code = [self._outputs[DiabetesRisk.NO_DIABETES], self._outputs[DiabetesRisk.DIABETES]]
            self._table = {key: by_code[code] for key, code in zip(all_keys(), codes.tolist(), strict=True)}
            self._dense = codes

    @property
    def precomputed(self) -> bool:
        return bool(self._table)

    def _output(self, label: Any) -> DiabetesRiskModelOutput:
        try:
            return self._outputs[DiabetesRisk.map(float(label))]
        except ValueError as exc:
            raise PredictionError(str(exc)) from None

    def answer(self, key: Key) -> DiabetesRiskModelOutput:
        """The answer for *key*: a lookup when precomputed, else one pipeline call on a prebuilt row."""
        found = self._table.get(key)
        if found is not None:
            return found
        row = self._template.copy()
        for index, value in zip(_API_INDEXES, key, strict=True):
            if value is not None:
                row[0, index] = value
        labels = self._pipeline.predict(pd.DataFrame(row, columns=self._columns, copy=False))
        return self._output(labels[0])

    def answer_batch(self, keys: np.ndarray) -> list[str]:
        """The answers (:class:`DiabetesRisk` values) for an ``(n, 4)`` float64 array of keys, NaN = missing.

        Row ``i`` is answered exactly as :meth:`answer` answers the same key: one vectorised lookup when
        precomputed, else one pipeline call for the whole batch. Every key must be one the API accepts.
        """
        keys = np.asarray(keys, dtype=np.float64)
        if keys.ndim != 2 or keys.shape[1] != len(API_FEATURES):
            raise PredictionError(f"a batch of keys must have shape (n, {len(API_FEATURES)}), not {keys.shape}")
        if self._dense is not None:
            given = ~np.isnan(keys)
            indexes = np.where(given, keys - _KEY_OFFSETS, 0.0)
            if not np.array_equal(indexes, np.round(indexes)) or (indexes[given] < 1).any():
                raise PredictionError("a batch key is outside the input space")
            try:
                flat = np.ravel_multi_index(tuple(indexes.astype(np.intp).T), _KEY_SIZES)
            except ValueError:
                raise PredictionError("a batch key is outside the input space") from None
            codes = self._dense[flat]
        else:
            values = np.full((len(keys), len(FEATURE_COLUMNS)), np.nan, dtype=np.float64)
            values[:, _API_INDEXES] = keys
            codes = label_codes(self._pipeline.predict(pd.DataFrame(values, columns=self._columns, copy=False)))
        return list(_RISK_VALUES[codes].tolist())


__all__ = [
    "TABLE_SIZE",
    "AnswerTable",
    "Key",
    "all_keys",
    "answer_codes",
    "frame_for",
    "key_for",
    "label_codes",
]
