"""The Open Inference Protocol's REST endpoints (KServe "V2"), next to the service's own API.

=====  ==========================================  ===================================================
GET    ``/v2``                                     server metadata: name, version, extensions (none)
GET    ``/v2/health/live``                         200 ``{"live": true}``; 503 once loading failed
GET    ``/v2/health/ready``                        200 ``{"ready": true}`` when the model is loaded, else 503
GET    ``/v2/models/<model>``                      model metadata: platform, inputs and outputs
GET    ``/v2/models/<model>/ready``                200 ``{"name", "ready": true}``, else 503
POST   ``/v2/models/<model>/infer``                a batch of up to MAX_ROWS rows (:mod:`._inference_protocol`)
=====  ==========================================  ===================================================

Readiness is the app's: model routes answer 503 with ``Retry-After`` while the model loads or after it
failed, as the existing API's do. Every error is the protocol's ``{"error": "..."}``: 400 for a refused
request (naming the input and the row), 404 for a model this service does not serve or a path it does
not know under ``/v2``, 405 for a wrong method, 413 for a body over the limit. Model versions are not
offered (no ``/versions/`` paths, no ``model_version`` in answers), as the protocol allows.

The routes know the app only through what :func:`inference_protocol_router` is given: the names to
answer with, a readiness function and a function returning the loaded model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import JSONResponse

from diabetes_risk_model.errors import InvalidInferenceRequest, PredictionError
from diabetes_risk_model.service._inference_protocol import (
    BINARY_HEADER,
    MAX_BODY_BYTES,
    decode_request,
    encode_response,
    tensor_metadata,
)
from diabetes_risk_model.service._v2_schemas import (
    V2Error,
    V2InferenceRequest,
    V2InferenceResponse,
    V2Live,
    V2ModelMetadata,
    V2ModelReady,
    V2Ready,
    V2ServerMetadata,
    inline_schema,
)

logger = logging.getLogger(__name__)

Readiness = Literal["loading", "ready", "failed"]
RETRY_AFTER_SECONDS = "5"
PLATFORM = "pycaret"


class BatchModel(Protocol):
    """What the routes need from the loaded model."""

    @property
    def package(self) -> Any: ...  # manifest.sequence, sha256

    def predict_batch(self, keys: np.ndarray) -> list[str]: ...


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message}, headers=headers)


def _not_ready(state: Readiness) -> JSONResponse:
    if state == "failed":
        message = "The model failed to load; see the service log."
    else:
        message = "The model is still loading; retry shortly."
    return _error(503, message, {"Retry-After": RETRY_AFTER_SECONDS})


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise InvalidInferenceRequest(f"The request body is over {MAX_BODY_BYTES} bytes.", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidInferenceRequest(f"The request body is over {MAX_BODY_BYTES} bytes.", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def package_parameters(model: BatchModel) -> dict[str, str | int]:
    """The served package, named in every answer: its sequence number and the package file's SHA-256."""
    package = model.package
    sequence = getattr(package.manifest, "sequence", None)
    parameters: dict[str, str | int] = {"package_sha256": str(package.sha256)}
    if isinstance(sequence, int):
        parameters["package_sequence"] = sequence
    return parameters


def inference_protocol_router(
    *,
    server_name: str,
    server_version: str,
    model_name: str,
    readiness: Callable[[], Readiness],
    model: Callable[[], BatchModel],
) -> APIRouter:
    """The V2 routes for one model; *model* is only called when *readiness* says ``"ready"``."""
    router = APIRouter(tags=["Open Inference Protocol (V2)"])
    model_path = f"/v2/models/{model_name}"
    request_schema = inline_schema(V2InferenceRequest)

    async def server_metadata() -> JSONResponse:
        """Server metadata: the service's name and version; no protocol extensions."""
        return JSONResponse({"name": server_name, "version": server_version, "extensions": []})

    async def server_live() -> JSONResponse:
        """Liveness: true while the model loads and once it is loaded; false (503) once loading failed."""
        live = readiness() != "failed"
        return JSONResponse({"live": live}, status_code=200 if live else 503)

    async def server_ready() -> JSONResponse:
        """Readiness: true (200) only when the model is loaded; else 503 with Retry-After."""
        if readiness() == "ready":
            return JSONResponse({"ready": True})
        return JSONResponse({"ready": False}, status_code=503, headers={"Retry-After": RETRY_AFTER_SECONDS})

    async def model_ready() -> JSONResponse:
        """Model readiness: 200 when the model is loaded, else 503 with Retry-After."""
        if readiness() == "ready":
            return JSONResponse({"name": model_name, "ready": True})
        headers = {"Retry-After": RETRY_AFTER_SECONDS}
        return JSONResponse({"name": model_name, "ready": False}, status_code=503, headers=headers)

    async def model_metadata() -> JSONResponse:
        """Model metadata: one input per field of the existing API (INT64 or BYTES, shape [-1]) and the output."""
        state = readiness()
        if state != "ready":
            return _not_ready(state)
        return JSONResponse({"name": model_name, "platform": PLATFORM, **tensor_metadata()})

    async def infer(request: Request) -> JSONResponse:
        """Answer a batch: one input per field of the existing API, shape [N]; the output diabetes_risk, BYTES [N].

        A left-out input, or a null element, is not given (imputed). Any invalid element refuses the whole
        request with 400, naming the input and the row (from 0). The answer's parameters name the served
        package (package_sequence, package_sha256).
        """
        state = readiness()
        if state != "ready":
            return _not_ready(state)
        try:
            if BINARY_HEADER in request.headers:
                raise InvalidInferenceRequest(
                    "Binary tensor data (Inference-Header-Content-Length) is not accepted; send JSON data."
                )
            decoded = decode_request(await _read_body(request))
            served = model()
            risks = served.predict_batch(decoded.keys)
        except InvalidInferenceRequest as exc:
            logger.info("refused inference request: %s", exc)
            return _error(exc.status, str(exc))
        except PredictionError:
            logger.exception("inference failed")
            return _error(500, "Internal error; see the service log.")
        return JSONResponse(encode_response(model_name, decoded, risks, package_parameters(served)))

    async def not_found(request: Request, path: str) -> JSONResponse:
        """Anything else under /v2: an unknown model (404), an unknown path (404) or a wrong method (405)."""
        route = f"/v2/{path}"
        allowed = known.get(route)
        if allowed is not None:
            return _error(405, f"{request.method} is not allowed on {route}.", {"Allow": ", ".join(allowed)})
        parts = path.split("/")
        if len(parts) >= 2 and parts[0] == "models" and parts[1] != model_name:
            return _error(404, f"Model '{parts[1][:100]}' is not served here; this service serves '{model_name}'.")
        return _error(404, f"No endpoint at {route[:200]}.")

    def add(path: str, endpoint: Callable[..., Any], method: str, answer: type[BaseModel], **extra: Any) -> None:
        router.add_api_route(path, endpoint, methods=[method], response_model=answer, **extra)

    def unavailable(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
        return {503: {"model": model, "description": "The model is loading or failed to load (Retry-After)."}}

    refused = {"model": V2Error, "description": "The request is refused; nothing of it is answered."}
    add("/v2", server_metadata, "GET", V2ServerMetadata)
    add("/v2/health/live", server_live, "GET", V2Live, responses=unavailable(V2Live))
    add("/v2/health/ready", server_ready, "GET", V2Ready, responses=unavailable(V2Ready))
    add(model_path, model_metadata, "GET", V2ModelMetadata, responses=unavailable(V2Error))
    add(f"{model_path}/ready", model_ready, "GET", V2ModelReady, responses=unavailable(V2ModelReady))
    add(
        f"{model_path}/infer",
        infer,
        "POST",
        V2InferenceResponse,
        responses={400: refused, 413: refused, **unavailable(V2Error)},
        # The body is decoded by hand (for speed), so its schema is published here rather than by FastAPI.
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": request_schema}}}},
    )
    known = {route.path: sorted(route.methods or ()) for route in router.routes if isinstance(route, APIRoute)}
    router.add_api_route("/v2/", server_metadata, methods=["GET"], include_in_schema=False)
    router.add_api_route("/v2/{path:path}", not_found, methods=_ALL_METHODS, include_in_schema=False)
    return router


_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


__all__ = ["BatchModel", "Readiness", "inference_protocol_router", "package_parameters"]
