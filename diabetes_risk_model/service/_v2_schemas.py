"""The Open Inference Protocol's JSON objects as this service answers and accepts them, for the OpenAPI document.

The routes build their answers directly (no validation on the way out) and decode requests themselves
(:mod:`._inference_protocol`), for speed; these models only describe them. The request's models are as
strict as the decoder: unknown fields refused, the input names, datatypes and values the model takes.
What JSON Schema cannot say is checked by the decoder alone: every input's data has as many elements
as its shape says, all inputs have the same shape, and no input is given twice.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from diabetes_risk_model.prediction.schemas import BMI_MAX, BMI_MIN, Age, DiabetesRisk, GeneralHealth, Income
from diabetes_risk_model.service._inference_protocol import MAX_ROWS

Parameters = dict[str, str | int | float | bool]
Shape = Annotated[list[Annotated[int, Field(ge=1, le=MAX_ROWS)]], Field(min_length=1, max_length=1)]


class V2Error(BaseModel):
    """``$inference_error_response`` (and the other error objects): one descriptive message."""

    error: str


class V2ServerMetadata(BaseModel):
    """``$metadata_server_response``."""

    name: str
    version: str
    extensions: list[str]


class V2Live(BaseModel):
    """The server live answer."""

    live: bool


class V2Ready(BaseModel):
    """The server ready answer."""

    ready: bool


class V2ModelReady(BaseModel):
    """``$ready_model_response``."""

    name: str
    ready: bool


class V2TensorMetadata(BaseModel):
    """``$metadata_tensor``: shape -1 is a dimension of any size (the batch)."""

    name: str
    datatype: str
    shape: list[int]


class V2ModelMetadata(BaseModel):
    """``$metadata_model_response`` (no versions: this service does not offer them)."""

    name: str
    platform: str
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shape: Shape = Field(description=f"[N], the batch size: from 1 to {MAX_ROWS}, the same for every input.")
    parameters: Parameters | None = None


class V2BodyMassIndexInput(_Input):
    name: Literal["body_mass_index"]
    datatype: Literal["INT64", "INT32"]
    data: list[Annotated[int, Field(ge=BMI_MIN, le=BMI_MAX)] | None] = Field(
        max_length=MAX_ROWS, description="One whole number per row; null = not given."
    )


class V2GeneralHealthInput(_Input):
    name: Literal["general_health"]
    datatype: Literal["BYTES"]
    data: list[GeneralHealth | None] = Field(max_length=MAX_ROWS, description="One name per row; null = not given.")


class V2AgeInput(_Input):
    name: Literal["age"]
    datatype: Literal["BYTES"]
    data: list[Age | None] = Field(max_length=MAX_ROWS, description="One name per row; null = not given.")


class V2IncomeInput(_Input):
    name: Literal["income"]
    datatype: Literal["BYTES"]
    data: list[Income | None] = Field(max_length=MAX_ROWS, description="One name per row; null = not given.")


V2RequestInput = Annotated[
    V2BodyMassIndexInput | V2GeneralHealthInput | V2AgeInput | V2IncomeInput, Field(discriminator="name")
]


class V2RequestOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Literal["diabetes_risk"]
    parameters: Parameters | None = None


class V2InferenceRequest(BaseModel):
    """``$inference_request``: one to four inputs (a left-out input is not given for any row)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    parameters: Parameters | None = None
    inputs: list[V2RequestInput] = Field(min_length=1, max_length=4)
    outputs: list[V2RequestOutput] | None = None


class V2ResponseOutput(BaseModel):
    name: Literal["diabetes_risk"]
    datatype: Literal["BYTES"]
    shape: list[int]
    parameters: Parameters | None = None
    data: list[DiabetesRisk]


class V2InferenceResponse(BaseModel):
    """``$inference_response``; ``parameters`` names the served package (sequence and SHA-256)."""

    model_name: str
    id: str | None = Field(default=None, description="The request's id, when it had one.")
    parameters: Parameters
    outputs: list[V2ResponseOutput]


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """*model*'s JSON Schema with every ``$defs`` reference replaced by its definition (for ``openapi_extra``)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.rsplit("/", 1)[1]])
            # The discriminator's mapping points into $defs; the inlined oneOf needs no mapping (names are consts).
            return {key: resolve(value) for key, value in node.items() if key != "discriminator"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return dict(resolve(schema))
