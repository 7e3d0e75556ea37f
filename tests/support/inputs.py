"""API inputs for the tests, and the frame the pipeline is asked about for them."""

from __future__ import annotations

import random

import pandas as pd

from diabetes_risk_model.prediction.schemas import Age, DiabetesRiskModelInput, GeneralHealth, Income
from diabetes_risk_model.prediction.table import frame_for, key_for


def sample_inputs(count: int, seed: int = 7) -> list[DiabetesRiskModelInput]:
    """Random inputs over the whole domain, including missing fields."""
    rng = random.Random(seed)
    return [
        DiabetesRiskModelInput(
            body_mass_index=rng.choice([None, *range(15, 61)]),
            general_health=rng.choice([None, *GeneralHealth]),
            age=rng.choice([None, *Age]),
            income=rng.choice([None, *Income]),
        )
        for _ in range(count)
    ]


def pipeline_frame(inputs: list[DiabetesRiskModelInput]) -> pd.DataFrame:
    """The frame the service hands its pipeline for *inputs*, one row each, to ask the pipeline itself."""
    return frame_for([key_for(item) for item in inputs])
