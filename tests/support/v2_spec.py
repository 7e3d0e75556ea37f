"""The Open Inference Protocol's REST JSON objects, transcribed as JSON Schema (the tests' oracle for shapes).

Sources (KServe's open-inference-protocol repository):

- ``specification/protocol/open_inference_rest.yaml`` (OpenAPI 3.0, commit 18d5991e9e45d291f53103cc79e13ecc6212ffae),
  ``components/schemas``: ``metadata_server_response``, ``metadata_server_error_response``,
  ``metadata_model_response``, ``metadata_tensor``, ``inference_request``, ``parameters``, ``request_input``,
  ``tensor_data``, ``request_output``, ``response_output``, ``inference_response``, ``inference_error_response``;
  transcribed as they stand, with one tightening each spec states in prose (``inference_rest.md``): a
  ``$parameters`` value is a string, a number or a boolean, and error objects have ``error`` required.
- ``specification/protocol/inference_rest.md`` (commit 011728e1fe18619e620e4df99f63678e2b6b7285), "Payload
  Contents": ``$ready_model_response = {"name": $string, "ready": $bool}``, ``$live_server_response =
  {"live": $bool}``. Its ``$ready_server_response`` reads ``{"live": $bool}``, an evident copy of the live
  object; KServe's own server models it as ``{"ready": $bool}`` (``ServerReadyResponse`` in
  ``python/kserve/kserve/protocol/rest/v2_datamodels.py`` of kserve/kserve), which is what is encoded here.

Nothing here is this service's own: names of our inputs, datatypes and limits are checked in the tests.
"""

from __future__ import annotations

from typing import Any

import jsonschema

_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}
_TENSOR_DATA: dict[str, Any] = {
    "type": "array",
    "items": {"anyOf": [{"$ref": "#/$defs/tensor_data"}, {"type": "number"}, {"type": "string"}, {"type": "boolean"}]},
}
_SHAPE: dict[str, Any] = {"type": "array", "items": {"type": "integer"}}
_ERROR: dict[str, Any] = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}

DEFINITIONS: dict[str, Any] = {
    "parameters": _PARAMETERS,
    "tensor_data": _TENSOR_DATA,
    "metadata_server_response": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "extensions": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "version", "extensions"],
    },
    "metadata_tensor": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "datatype": {"type": "string"}, "shape": _SHAPE},
        "required": ["name", "datatype", "shape"],
    },
    "metadata_model_response": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string"},
            "inputs": {"type": "array", "items": {"$ref": "#/$defs/metadata_tensor"}},
            "outputs": {"type": "array", "items": {"$ref": "#/$defs/metadata_tensor"}},
        },
        "required": ["name", "platform"],
    },
    "request_input": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": _SHAPE,
            "datatype": {"type": "string"},
            "parameters": {"$ref": "#/$defs/parameters"},
            "data": {"$ref": "#/$defs/tensor_data"},
        },
        "required": ["name", "shape", "datatype", "data"],
    },
    "request_output": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "parameters": {"$ref": "#/$defs/parameters"}},
        "required": ["name"],
    },
    "inference_request": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "parameters": {"$ref": "#/$defs/parameters"},
            "inputs": {"type": "array", "items": {"$ref": "#/$defs/request_input"}},
            "outputs": {"type": "array", "items": {"$ref": "#/$defs/request_output"}},
        },
        "required": ["inputs"],
    },
    "response_output": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": _SHAPE,
            "datatype": {"type": "string"},
            "parameters": {"$ref": "#/$defs/parameters"},
            "data": {"$ref": "#/$defs/tensor_data"},
        },
        "required": ["name", "shape", "datatype", "data"],
    },
    "inference_response": {
        "type": "object",
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "parameters": {"$ref": "#/$defs/parameters"},
            "outputs": {"type": "array", "items": {"$ref": "#/$defs/response_output"}},
        },
        "required": ["model_name", "outputs"],
    },
    "error_response": _ERROR,
    "live_server_response": {"type": "object", "properties": {"live": {"type": "boolean"}}, "required": ["live"]},
    "ready_server_response": {
        "type": "object",
        "properties": {"ready": {"type": "boolean"}},
        "required": ["ready"],
    },
    "ready_model_response": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
        "required": ["name", "ready"],
    },
}


def check(document: Any, definition: str) -> None:
    """Raise :class:`jsonschema.ValidationError` unless *document* is a valid ``$definition`` object."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": DEFINITIONS}
    schema["$ref"] = f"#/$defs/{definition}"
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)
