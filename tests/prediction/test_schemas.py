"""The API vocabulary: enum codes, BMI bounds, refused extras, the output mapping."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from diabetes_risk_model.prediction.schemas import (
    Age,
    DiabetesRisk,
    DiabetesRiskModelInput,
    DiabetesRiskModelOutput,
    GeneralHealth,
    Income,
)


def test_general_health_maps_to_codes_1_to_5() -> None:
    assert [m.map() for m in GeneralHealth] == [1, 2, 3, 4, 5]
    assert GeneralHealth.EXCELLENT.map() == 1
    assert GeneralHealth.POOR.map() == 5


def test_age_maps_to_codes_1_to_13() -> None:
    assert [m.map() for m in Age] == list(range(1, 14))
    assert Age.EIGHTEEN_TO_TWENTY_FOUR.map() == 1
    assert Age.FIFTY_FIVE_TO_FIFTY_NINE.map() == 8
    assert Age.EIGHTY_OR_OLDER.map() == 13


def test_income_maps_to_codes_1_to_8() -> None:
    assert [m.map() for m in Income] == list(range(1, 9))
    assert Income.LESS_THAN_10K.map() == 1
    assert Income.SEVENTY_FIVE_THOUSAND_OR_MORE.map() == 8


def test_enums_are_strings_on_the_wire() -> None:
    data = DiabetesRiskModelInput(general_health="VERY_GOOD", age="EIGHTY_OR_OLDER", income="LESS_THAN_10K")
    assert data.model_dump(mode="json") == {
        "body_mass_index": None,
        "general_health": "VERY_GOOD",
        "age": "EIGHTY_OR_OLDER",
        "income": "LESS_THAN_10K",
    }


def test_every_field_is_optional() -> None:
    empty = DiabetesRiskModelInput()
    assert (empty.body_mass_index, empty.general_health, empty.age, empty.income) == (None, None, None, None)


@pytest.mark.parametrize("bmi", [15, 30, 60, 30.0])
def test_bmi_within_bounds_is_accepted(bmi: int) -> None:
    parsed = DiabetesRiskModelInput(body_mass_index=bmi).body_mass_index
    assert parsed == bmi and type(parsed) is int


@pytest.mark.parametrize("bmi", [10, 14, 61, -1, 25.5, "25", True, float("nan"), 1e300, [25]])
def test_bmi_out_of_bounds_or_not_an_integer_is_refused_naming_the_field(bmi: object) -> None:
    with pytest.raises(ValidationError) as info:
        DiabetesRiskModelInput.model_validate({"body_mass_index": bmi})
    assert [error["loc"] for error in info.value.errors()] == [("body_mass_index",)]


def test_unknown_enum_value_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        DiabetesRiskModelInput.model_validate({"age": "TWELVE"})
    assert info.value.errors()[0]["loc"] == ("age",)


def test_unknown_field_is_refused_rather_than_silently_imputed() -> None:
    with pytest.raises(ValidationError) as info:
        DiabetesRiskModelInput.model_validate({"bmi": 25})
    assert info.value.errors()[0]["loc"] == ("bmi",)
    assert info.value.errors()[0]["type"] == "extra_forbidden"


def test_every_input_field_has_a_description() -> None:
    properties = DiabetesRiskModelInput.model_json_schema()["properties"]
    assert set(properties) == {"body_mass_index", "general_health", "age", "income"}
    assert all(prop.get("description") for prop in properties.values())
    assert properties["body_mass_index"]["anyOf"][0] == {"type": "integer", "minimum": 15, "maximum": 60}


def test_diabetes_risk_maps_labels() -> None:
    assert DiabetesRisk.map(0.0) is DiabetesRisk.NO_DIABETES
    assert DiabetesRisk.map(1) is DiabetesRisk.DIABETES
    with pytest.raises(ValueError, match="not a Diabetes label"):
        DiabetesRisk.map(2.0)
    assert DiabetesRiskModelOutput(diabetes_risk=DiabetesRisk.DIABETES).model_dump(mode="json") == {
        "diabetes_risk": "DIABETES"
    }
