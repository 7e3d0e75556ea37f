"""The OpenAPI document says what the app really answers.

FastAPI documents a 422 ``HTTPValidationError`` on every operation with parameters; this app answers
validation errors with 400 ``Error``, a body that is not JSON with 415 ``Error``, and model routes with
503 ``Error`` while the model is not loaded. FastAPI regenerates the document whenever routes are added (the
prediction routes appear once their model is loaded), and :meth:`ServiceApp.openapi` corrects every version.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from diabetes_risk_model.service._errors import JSON_MEDIA_TYPE, MODELS_PREFIX


def describe_our_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI *document* say what this app answers (in place; idempotent)."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", {"description": "Invalid request", "content": error})
            if "requestBody" in operation:
                responses.setdefault("415", {"description": f"The body is not {JSON_MEDIA_TYPE}", "content": error})
            if path.startswith(MODELS_PREFIX):
                responses.setdefault("503", {"description": "The model is not loaded (yet)", "content": error})
    schemas = document.get("components", {}).get("schemas", {})
    text = json.dumps(document.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}" not in text:
            schemas.pop(unused, None)
            text = json.dumps(document.get("paths", {})) + json.dumps(schemas)
    return document


class ServiceApp(FastAPI):
    """FastAPI whose OpenAPI document describes this app's error answers."""

    def openapi(self) -> dict[str, Any]:
        return describe_our_errors(super().openapi())
