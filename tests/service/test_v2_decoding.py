"""The V2 decoder against the existing API's pydantic model, and the answer table's batches against its rows."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from diabetes_risk_model.errors import InvalidInferenceRequest, PredictionError
from diabetes_risk_model.prediction.schemas import Age, DiabetesRiskModelInput, GeneralHealth, Income
from diabetes_risk_model.prediction.table import AnswerTable, all_keys, key_for
from diabetes_risk_model.service._inference_protocol import INPUTS, decode_request
from tests.support.inference_protocol import DATATYPES

NAMES = [m.value for enum in (GeneralHealth, Age, Income) for m in enum]
# What JSON can carry for one element: near-miss numbers, every enum name and near misses, and containers.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.integers(min_value=10, max_value=65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=10, max_value=65).map(round).map(float)
    | st.sampled_from(NAMES)
    | st.sampled_from(NAMES).map(str.lower)
    | st.text(max_size=8)
)
ELEMENTS = SCALARS | st.lists(SCALARS, max_size=2) | st.dictionaries(st.text(max_size=3), SCALARS, max_size=1)


def body(field: str, data: list[Any]) -> bytes:
    tensor = {"name": field, "shape": [len(data)], "datatype": DATATYPES[field], "data": data}
    return json.dumps({"inputs": [tensor]}).encode()


@settings(max_examples=400, deadline=None)
@given(field=st.sampled_from([spec.name for spec in INPUTS]), value=ELEMENTS)
def test_an_element_is_accepted_exactly_when_the_existing_api_accepts_it(field: str, value: Any) -> None:
    value = json.loads(json.dumps(value))  # exactly what a JSON body carries
    column = [spec.name for spec in INPUTS].index(field)
    try:
        expected = key_for(DiabetesRiskModelInput.model_validate({field: value}))[column]
    except ValidationError as exc:
        with pytest.raises(InvalidInferenceRequest) as info:
            decode_request(body(field, [None, value]))
        assert (info.value.input, info.value.row, info.value.status) == (field, 1, 400)
        assert f"has error '{exc.errors()[0]['type']}'" in str(info.value)
        return
    keys = decode_request(body(field, [None, value])).keys
    assert keys.shape == (2, 4) and np.isnan(keys[0]).all()
    found = keys[1, column]
    assert (math.isnan(found) and expected is None) or found == expected
    assert np.isnan(np.delete(keys[1], column)).all()


def test_each_row_gets_its_own_key() -> None:
    rows = [
        DiabetesRiskModelInput(body_mass_index=15, general_health="POOR", age="EIGHTY_OR_OLDER", income=None),
        DiabetesRiskModelInput(body_mass_index=None, general_health=None, age=None, income="LESS_THAN_10K"),
        DiabetesRiskModelInput(body_mass_index=60, general_health="EXCELLENT", age=None, income=None),
    ]
    inputs = [
        {"name": f, "shape": [3], "datatype": DATATYPES[f], "data": [getattr(row, f) for row in rows]}
        for f in DATATYPES
    ]
    keys = decode_request(json.dumps({"inputs": inputs}).encode()).keys
    expected = np.array([[np.nan if v is None else v for v in key_for(row)] for row in rows], dtype=np.float64)
    np.testing.assert_array_equal(keys, expected)


@pytest.mark.parametrize("precompute", [True, False])
def test_a_batch_of_every_key_is_answered_as_each_key_alone(api_pipeline: Any, precompute: bool) -> None:
    table = AnswerTable(api_pipeline, precompute=precompute)
    keys = list(all_keys())
    if not precompute:
        keys = keys[::37]  # one pipeline call per key below: a spread-out sample of the 35,532
    array = np.array([[np.nan if v is None else v for v in key] for key in keys], dtype=np.float64)
    assert table.answer_batch(array) == [table.answer(key).diabetes_risk.value for key in keys]


def test_a_batch_key_outside_the_input_space_is_refused(api_pipeline: Any) -> None:
    table = AnswerTable(api_pipeline, precompute=True)
    for bad in ([14.0, np.nan, np.nan, np.nan], [np.nan, 6.0, np.nan, np.nan], [25.5, np.nan, np.nan, np.nan]):
        with pytest.raises(PredictionError):
            table.answer_batch(np.array([bad]))
    with pytest.raises(PredictionError):
        table.answer_batch(np.zeros((2, 3)))
