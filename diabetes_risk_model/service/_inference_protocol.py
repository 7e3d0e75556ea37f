"""The Open Inference Protocol (KServe "V2", REST/JSON) for this model: requests in, answers out.

Pure functions of the request body and the model's answers; no HTTP framework, no I/O.

An inference request carries one tensor per field of the existing API, each of shape ``[N]``
(``1 <= N <= MAX_ROWS``), row ``i`` of every tensor describing patient ``i``:

========================  ================  ==============================================
input                     datatype          data
========================  ================  ==============================================
``body_mass_index``       INT64 or INT32    whole numbers from 15 to 60
``general_health``        BYTES             :class:`GeneralHealth` names (``"VERY_GOOD"``)
``age``                   BYTES             :class:`Age` names
``income``                BYTES             :class:`Income` names
========================  ================  ==============================================

An input left out is "not given" for every row, and a JSON ``null`` element is "not given" for that row,
as an omitted or null field is in the existing API: the pipeline imputes it. At least one input must be
sent (it gives N). Every element is held to the existing API's pydantic rules
(:class:`DiabetesRiskModelInput`): a value that model refuses is refused here, with the same error type.
The answer is the output ``diabetes_risk``, BYTES ``[N]`` (:class:`DiabetesRisk` names), row for row.

Any problem refuses the whole request (:class:`InvalidInferenceRequest`, naming the input and the row,
counting from 0); nothing is half-answered. Tensor data must be JSON: Triton's binary tensor extension
is refused. Unknown fields are refused, as in the existing API; request and output ``parameters`` are
accepted and ignored (``binary_data_output`` included: the answer is always JSON).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from diabetes_risk_model.errors import InvalidInferenceRequest
from diabetes_risk_model.prediction.schemas import BMI_MAX, BMI_MIN, Age, DiabetesRiskModelInput, GeneralHealth, Income
from diabetes_risk_model.prediction.table import key_for

#: The largest batch one request may carry.
MAX_ROWS = 10_000
#: The largest request body read: room for MAX_ROWS rows of the longest names, with generous whitespace.
MAX_BODY_BYTES = 8 * 1024 * 1024
OUTPUT_NAME = "diabetes_risk"
OUTPUT_DATATYPE = "BYTES"
BINARY_HEADER = "inference-header-content-length"

_REQUEST_FIELDS = frozenset({"id", "parameters", "inputs", "outputs"})
_INPUT_FIELDS = frozenset({"name", "shape", "datatype", "parameters", "data"})
_OUTPUT_FIELDS = frozenset({"name", "parameters"})


@dataclass(frozen=True)
class InputSpec:
    """One input tensor: its name (the API field), the datatypes it accepts, and its valid values."""

    name: str
    datatypes: tuple[str, ...]  # the first is the one the model metadata names
    column: int  # position in the answer table's key
    values: Mapping[Any, float]  # every value the API accepts (None = not given) -> key component


def _codes(members: Sequence[Any]) -> dict[Any, float]:
    return {None: math.nan, **{member.value: float(member.map()) for member in members}}


INPUTS: tuple[InputSpec, ...] = (
    InputSpec(
        "body_mass_index",
        ("INT64", "INT32"),
        0,
        {None: math.nan, **{bmi: float(bmi) for bmi in range(BMI_MIN, BMI_MAX + 1)}},
    ),
    InputSpec("general_health", ("BYTES",), 1, _codes(list(GeneralHealth))),
    InputSpec("age", ("BYTES",), 2, _codes(list(Age))),
    InputSpec("income", ("BYTES",), 3, _codes(list(Income))),
)
_BY_NAME = {spec.name: spec for spec in INPUTS}


@dataclass(frozen=True)
class InferenceRequest:
    """A decoded, fully validated request: the table keys of its N rows, and its id (echoed back)."""

    keys: np.ndarray  # (N, 4) float64, NaN = not given
    id: str | None


def _refuse(message: str, **where: Any) -> InvalidInferenceRequest:
    return InvalidInferenceRequest(message, **where)


def _show(value: Any, limit: int = 60) -> str:
    """A client's value, as JSON, cut short: error messages quote it without echoing a whole body back."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_fields(item: Any, allowed: frozenset[str], what: str, input: str | None = None) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _refuse(f"{what} must be a JSON object.", input=input)
    unknown = sorted(set(item) - allowed)
    if unknown:
        fields = ", ".join(sorted(allowed))
        raise _refuse(f"{what} has unknown field {_show(unknown[0])}; its fields are {fields}.", input=input)
    return item


def _check_parameters(value: Any, what: str, input: str | None = None) -> dict[str, Any]:
    """``$parameters``: an object whose values are strings, numbers or booleans."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _refuse(f"'parameters' of {what} must be a JSON object.", input=input)
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool):
            raise _refuse(f"Parameter {_show(key)} of {what} must be a string, a number or a boolean.", input=input)
    return value


def _element(spec: InputSpec, row: int, value: Any) -> float:
    """One element the fast lookup did not know: the API's own model decides (and names the error)."""
    try:
        return spec.values[value]
    except (KeyError, TypeError):
        pass
    try:
        item = DiabetesRiskModelInput.model_validate({spec.name: value})
    except ValidationError as exc:
        error = exc.errors()[0]
        raise _refuse(
            f"Input '{spec.name}' row {row} has error '{error['type']}', {error['msg']}.", input=spec.name, row=row
        ) from None
    component = key_for(item)[spec.column]
    return math.nan if component is None else float(component)


def _column(spec: InputSpec, data: list[Any]) -> np.ndarray:
    """The key components of one input's rows; the whole column is looked up at once when all are valid."""
    try:
        return np.fromiter(map(spec.values.__getitem__, data), dtype=np.float64, count=len(data))
    except (KeyError, TypeError):
        return np.array([_element(spec, row, value) for row, value in enumerate(data)], dtype=np.float64)


def _rows(tensor: dict[str, Any], spec: InputSpec) -> list[Any]:
    """The data of one input tensor, after its datatype, shape and parameters check out."""
    name = spec.name
    if "binary_data_size" in _check_parameters(tensor.get("parameters"), f"input '{name}'", name):
        message = f"Input '{name}' uses binary tensor data, which this server does not accept; send JSON data."
        raise _refuse(message, input=name)
    for field in ("datatype", "shape", "data"):
        if field not in tensor:
            raise _refuse(f"Input '{name}' has no '{field}'.", input=name)
    if tensor["datatype"] not in spec.datatypes:
        accepted = " or ".join(spec.datatypes)
        raise _refuse(f"Input '{name}' has datatype {_show(tensor['datatype'])}; it must be {accepted}.", input=name)
    shape, data = tensor["shape"], tensor["data"]
    size = shape[0] if isinstance(shape, list) and len(shape) == 1 else None
    if isinstance(size, float) and size.is_integer():  # JSON Schema's integer: 3.0 is one
        size = int(size)
    if type(size) is not int:
        raise _refuse(f"Input '{name}' must have shape [N] (one whole number), not {_show(shape)}.", input=name)
    if not 1 <= size <= MAX_ROWS:
        raise _refuse(f"Input '{name}' has shape [{size}]; N must be from 1 to {MAX_ROWS}.", input=name)
    if not isinstance(data, list) or len(data) != size:
        found = f"{len(data)} elements" if isinstance(data, list) else "no array"
        raise _refuse(f"Input '{name}' has shape [{size}] but its data has {found}.", input=name)
    return data


def decode_request(body: bytes) -> InferenceRequest:
    """Parse and validate an inference request body; any problem is an :class:`InvalidInferenceRequest`."""
    if len(body) > MAX_BODY_BYTES:
        raise _refuse(f"The request body is over {MAX_BODY_BYTES} bytes.", status=413)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "cannot be decoded"
        raise _refuse(f"The request body is not valid JSON: {reason}.") from None
    request = _check_fields(document, _REQUEST_FIELDS, "The inference request")
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise _refuse("The request 'id' must be a string.")
    _check_parameters(request.get("parameters"), "the request")
    outputs = request.get("outputs")
    outputs = [] if outputs is None else outputs
    if not isinstance(outputs, list):
        raise _refuse("The request 'outputs' must be an array.")
    for output in outputs:
        output = _check_fields(output, _OUTPUT_FIELDS, "A requested output")
        if output.get("name") != OUTPUT_NAME:
            raise _refuse(f"Unknown output {_show(output.get('name'))}; this model's output is '{OUTPUT_NAME}'.")
        _check_parameters(output.get("parameters"), f"output '{OUTPUT_NAME}'")
    tensors = request.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise _refuse(f"The request needs 'inputs': an array of one to four of {', '.join(_BY_NAME)}.")
    given: dict[str, list[Any]] = {}
    for tensor in tensors:
        name = tensor.get("name") if isinstance(tensor, dict) else None
        spec = _BY_NAME.get(name) if isinstance(name, str) else None
        if spec is None:
            raise _refuse(f"Unknown input {_show(name)}; this model's inputs are {', '.join(_BY_NAME)}.")
        if name in given:
            raise _refuse(f"Input '{name}' is given twice.", input=name)
        given[spec.name] = _rows(_check_fields(tensor, _INPUT_FIELDS, f"Input '{name}'", name), spec)
    first, *others = given
    for name in others:
        if len(given[name]) != len(given[first]):
            raise _refuse(
                f"Input '{name}' has shape [{len(given[name])}] but input '{first}' has [{len(given[first])}]; "
                "all inputs must have the same shape [N].",
                input=name,
            )
    keys = np.full((len(given[first]), len(INPUTS)), np.nan, dtype=np.float64)
    for spec in INPUTS:
        if spec.name in given:
            keys[:, spec.column] = _column(spec, given[spec.name])
    return InferenceRequest(keys=keys, id=request_id)


def encode_response(
    model_name: str, request: InferenceRequest, risks: list[str], parameters: Mapping[str, str | int]
) -> dict[str, Any]:
    """The ``$inference_response`` for *risks* (one :class:`DiabetesRisk` value per row of *request*)."""
    response: dict[str, Any] = {"model_name": model_name}
    if request.id is not None:
        response["id"] = request.id
    response["parameters"] = dict(parameters)
    response["outputs"] = [{"name": OUTPUT_NAME, "datatype": OUTPUT_DATATYPE, "shape": [len(risks)], "data": risks}]
    return response


def tensor_metadata() -> dict[str, list[dict[str, Any]]]:
    """The model metadata's ``inputs`` and ``outputs`` (``$metadata_tensor``; -1 = any batch size)."""
    return {
        "inputs": [{"name": spec.name, "datatype": spec.datatypes[0], "shape": [-1]} for spec in INPUTS],
        "outputs": [{"name": OUTPUT_NAME, "datatype": OUTPUT_DATATYPE, "shape": [-1]}],
    }


__all__ = [
    "INPUTS",
    "MAX_BODY_BYTES",
    "MAX_ROWS",
    "OUTPUT_NAME",
    "InferenceRequest",
    "decode_request",
    "encode_response",
    "tensor_metadata",
]
