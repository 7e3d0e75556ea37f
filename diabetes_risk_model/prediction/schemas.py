"""What a client sends and what it gets back: the service's public vocabulary.

The model was trained on the BRFSS 2015 codes (``GenHlth`` 1-5, ``_AGEG5YR``
1-13, ``INCOME2`` 1-8). Clients should not need to know those codes, so the
API speaks in named categories (``"VERY_GOOD"``) and each enum maps itself to
the dataset's code with :meth:`map`. Every input field is optional: the
original design sends ``None`` for what a client does not know and lets the
pipeline's imputer fill it in, and we keep that behaviour.

Unknown fields are refused (``extra="forbid"``) rather than ignored: a client
that misspells ``body_mass_index`` would otherwise silently get a prediction
for an imputed BMI.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError


class _CodedEnum(StrEnum):
    """A str enum whose members stand for consecutive dataset codes, starting at 1, in declaration order."""

    def map(self) -> int:
        """The dataset's numeric code for this category."""
        return list(type(self)).index(self) + 1


class GeneralHealth(_CodedEnum):
    """Self-reported general health (BRFSS ``GenHlth``), 1 = excellent ... 5 = poor."""

    EXCELLENT = "EXCELLENT"
    VERY_GOOD = "VERY_GOOD"
    GOOD = "GOOD"
    FAIR = "FAIR"
    POOR = "POOR"


class Age(_CodedEnum):
    """Age bracket (BRFSS ``_AGEG5YR``), 1 = 18-24 ... 13 = 80 or older."""

    EIGHTEEN_TO_TWENTY_FOUR = "EIGHTEEN_TO_TWENTY_FOUR"
    TWENTY_FIVE_TO_TWENTY_NINE = "TWENTY_FIVE_TO_TWENTY_NINE"
    THIRTY_TO_THIRTY_FOUR = "THIRTY_TO_THIRTY_FOUR"
    THIRTY_FIVE_TO_THIRTY_NINE = "THIRTY_FIVE_TO_THIRTY_NINE"
    FORTY_TO_FORTY_FOUR = "FORTY_TO_FORTY_FOUR"
    FORTY_FIVE_TO_FORTY_NINE = "FORTY_FIVE_TO_FORTY_NINE"
    FIFTY_TO_FIFTY_FOUR = "FIFTY_TO_FIFTY_FOUR"
    FIFTY_FIVE_TO_FIFTY_NINE = "FIFTY_FIVE_TO_FIFTY_NINE"
    SIXTY_TO_SIXTY_FOUR = "SIXTY_TO_SIXTY_FOUR"
    SIXTY_FIVE_TO_SIXTY_NINE = "SIXTY_FIVE_TO_SIXTY_NINE"
    SEVENTY_TO_SEVENTY_FOUR = "SEVENTY_TO_SEVENTY_FOUR"
    SEVENTY_FIVE_TO_SEVENTY_NINE = "SEVENTY_FIVE_TO_SEVENTY_NINE"
    EIGHTY_OR_OLDER = "EIGHTY_OR_OLDER"


class Income(_CodedEnum):
    """Household income bracket (BRFSS ``INCOME2``), 1 = less than $10k ... 8 = $75k or more."""

    LESS_THAN_10K = "LESS_THAN_10K"
    BETWEEN_10K_AND_15K = "BETWEEN_10K_AND_15K"
    BETWEEN_15K_AND_20K = "BETWEEN_15K_AND_20K"
    BETWEEN_20K_AND_25K = "BETWEEN_20K_AND_25K"
    BETWEEN_25K_AND_35K = "BETWEEN_25K_AND_35K"
    BETWEEN_35K_AND_50K = "BETWEEN_35K_AND_50K"
    BETWEEN_50K_AND_75K = "BETWEEN_50K_AND_75K"
    SEVENTY_FIVE_THOUSAND_OR_MORE = "SEVENTY_FIVE_THOUSAND_OR_MORE"


BMI_MIN = 15
BMI_MAX = 60

#: The 21 features, in the order the pipeline is trained on and the service builds its rows in: the training
#: data's columns after renaming (``training.data.RENAMES``). ``HeavyAlchoholConsumption`` is misspelled on
#: purpose: it is the name the trained pipelines and the service share.
FEATURE_COLUMNS: tuple[str, ...] = (
    "HighBloodPressure",
    "HighCholesterol",
    "CholesterolChecked",
    "BMI",
    "Smoker",
    "Stroke",
    "HeartDiseaseOrHeartAttack",
    "PhysicalActivity",
    "Fruits",
    "Veggies",
    "HeavyAlchoholConsumption",
    "AnyHealthcare",
    "NoDoctorsVisitBecauseOfCost",
    "GeneralHealth",
    "MentalHealth",
    "PhysicalHealth",
    "DifficultyWalking",
    "Sex",
    "Age",
    "Education",
    "Income",
)

#: The features the API fills (``body_mass_index``, ``general_health``, ``age``, ``income``, in that order);
#: every other feature is sent missing and imputed by the pipeline.
API_FEATURES: tuple[str, ...] = ("BMI", "GeneralHealth", "Age", "Income")


def _whole_number(value: Any) -> Any:
    """Accept a JSON integer, or a number with no fractional part (JSON Schema's ``integer``); refuse the rest.

    Strings and booleans are refused rather than coerced: ``"25"`` or ``true`` is a client bug worth reporting.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a whole number")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise PydanticCustomError("int_from_float", "Input should be a whole number, without a fractional part")
        if abs(value) > 2**31:
            raise PydanticCustomError("int_type", "Input should be a whole number of reasonable size")
        return int(value)
    return value


BodyMassIndex = Annotated[int, Field(ge=BMI_MIN, le=BMI_MAX), BeforeValidator(_whole_number)]


class DiabetesRiskModelInput(BaseModel):
    """One patient. Any field may be left out; the pipeline imputes what is missing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    body_mass_index: BodyMassIndex | None = Field(
        default=None,
        description=f"Body mass index, a whole number from {BMI_MIN} to {BMI_MAX}.",
    )
    general_health: GeneralHealth | None = Field(
        default=None, description="How the patient rates their general health."
    )
    age: Age | None = Field(default=None, description="The patient's age bracket.")
    income: Income | None = Field(default=None, description="The patient's household income bracket.")


class DiabetesRisk(StrEnum):
    """The model's answer."""

    NO_DIABETES = "NO_DIABETES"
    DIABETES = "DIABETES"

    @classmethod
    def map(cls, code: float) -> DiabetesRisk:
        """The category for the dataset's ``Diabetes`` label (0 = no diabetes, 1 = prediabetes or diabetes)."""
        if code == 0:
            return cls.NO_DIABETES
        if code == 1:
            return cls.DIABETES
        raise ValueError(f"the model predicted {code!r}, which is not a Diabetes label (0 or 1)")


class DiabetesRiskModelOutput(BaseModel):
    """The prediction for one patient."""

    diabetes_risk: DiabetesRisk = Field(description="Whether the model predicts a risk of diabetes.")


__all__ = [
    "API_FEATURES",
    "BMI_MAX",
    "BMI_MIN",
    "Age",
    "DiabetesRisk",
    "DiabetesRiskModelInput",
    "DiabetesRiskModelOutput",
    "FEATURE_COLUMNS",
    "GeneralHealth",
    "Income",
]
