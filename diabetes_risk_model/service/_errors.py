"""Every error the app answers, in the engine's ``Error`` shape: ``{"type": ..., "messages": [...]}``.

- a body that does not validate: 400 ``ValidationError``, one message per problem naming the field;
- a body that is not JSON (a ``Content-Type`` other than ``application/json`` or ``application/*+json``, or
  none at all): 415 ``UnsupportedMediaType`` naming the accepted type, with ``Accept: application/json``;
- no such path or method: 404 ``NotFound`` / ``ModelNotFound``, 405 ``MethodNotAllowed``;
- anything unexpected: 500 ``ServiceError`` with no exception text (the details go to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from rest_model_service.schemas import Error
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

logger = logging.getLogger(__name__)

MODELS_PREFIX = "/api/models/"
JSON_MEDIA_TYPE = "application/json"
BODY_SOURCES = ("body", "query", "path", "header", "cookie")


def error_response(
    status_code: int, kind: str, *messages: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSON error in the engine's ``Error`` shape."""
    body = Error(type=kind, messages=list(messages)).model_dump()
    return JSONResponse(status_code=status_code, content=body, headers=dict(headers or {}))


def describe_validation_error(error: Mapping[str, Any]) -> str:
    """One readable line for one pydantic error, naming the field (``loc`` items may be ints)."""
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in BODY_SOURCES:
        source, loc = loc[0], loc[1:]
    else:
        source = "body"
    if error.get("type") == "json_invalid":
        position = f" at position {loc[-1]}" if loc else ""
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        return f"Request {source} is not valid JSON{position}: {reason}."
    field = ".".join(loc) if loc else source
    return f"Field '{field}' has error '{error.get('type', 'invalid')}', {error.get('msg', 'invalid value')}."


def unsupported_media_type(request: Request) -> JSONResponse:
    """415 naming the one body type the API reads."""
    content_type = request.headers.get("content-type")
    sent = f"Content-Type '{content_type}'" if content_type else "A body without a Content-Type"
    message = f"{sent} is not supported; send the body as {JSON_MEDIA_TYPE}."
    return error_response(415, "UnsupportedMediaType", message, headers={"Accept": JSON_MEDIA_TYPE})


async def validation_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """400 with one message per problem, or 415 when the body was not JSON at all.

    FastAPI parses a body as JSON only when its ``Content-Type`` says JSON and hands any other non-empty body
    to validation as raw bytes, so a validation error whose body is still ``bytes`` means "not JSON".
    """
    if isinstance(exc, RequestValidationError) and isinstance(exc.body, bytes | bytearray) and exc.body:
        logger.info("rejected request to %s: body is not JSON", request.url.path)
        return unsupported_media_type(request)
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    messages = [describe_validation_error(error) for error in errors] or ["Request is invalid."]
    logger.info("rejected request to %s: %s", request.url.path, " ".join(messages))
    return error_response(400, "ValidationError", *messages)


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's HTTP errors (404, 405, ...) in our error shape."""
    status_code = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    headers = exc.headers if isinstance(exc, StarletteHTTPException) else None
    path = request.url.path
    if status_code == 404 and path.startswith(MODELS_PREFIX):
        return model_not_found(path[len(MODELS_PREFIX) :].split("/", 1)[0])
    if status_code == 404:
        return error_response(404, "NotFound", f"No endpoint at {path}.")
    if status_code == 405:
        return error_response(405, "MethodNotAllowed", f"{request.method} is not allowed on {path}.", headers=headers)
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else "error"
    return error_response(status_code, "HTTPError", str(detail), headers=headers)


async def unhandled_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Any bug becomes a 500 in our shape; the details go to the log, not to the client."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return internal_error()


def model_not_found(name: str) -> JSONResponse:
    return error_response(404, "ModelNotFound", f"Model '{name}' is not loaded in this service.")


def internal_error() -> JSONResponse:
    return error_response(500, "ServiceError", "Internal error; see the service log.")


#: The app's exception handlers, as ``FastAPI(exception_handlers=...)`` takes them.
EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[JSONResponse]]] = {
    RequestValidationError: validation_exception_handler,
    StarletteHTTPException: http_exception_handler,
    HTTPException: http_exception_handler,  # FastAPI registers its own for its subclass unless given one
    Exception: unhandled_exception_handler,
}
