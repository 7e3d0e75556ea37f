"""The app's own pages: the JSON index at ``GET /``, and the interactive documentation.

``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) are FastAPI's own pages (``get_swagger_ui_html``,
``get_redoc_html``) pointed at assets the service serves itself under ``/docs/static/``: the JavaScript,
CSS and favicon that the ``fastapi-offline`` package ships. The pages therefore make no request to any other
host (FastAPI's defaults load them from a public CDN, which is blank in an air-gapped cluster and
third-party script in the browser). ReDoc's web fonts are off for the same reason, and both pages carry a
Content-Security-Policy that lets the browser fetch nothing from anywhere but the service (ReDoc's sidebar
would otherwise load the Redocly logo from its CDN).
"""

from __future__ import annotations

from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

ROOT_PATH = "/"
OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
REDOC_PATH = "/redoc"
DOCS_ASSETS_PATH = "/docs/static"
#: Scripts, styles, images, fonts and API calls from this service only (inline script and style: FastAPI's pages
#: start Swagger UI inline; ReDoc styles inline and runs its search in a blob: worker).
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'self'; base-uri 'self'; form-action 'self'"
)
#: The package whose ``static/`` folder holds swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png.
DOCS_ASSETS_PACKAGE = ("fastapi_offline", "static")


class ServiceIndex(BaseModel):
    """What ``GET /`` answers: where to find the service's schema, documentation and metrics."""

    title: str = Field(description="The service's title.")
    version: str = Field(description="The service's version.")
    openapi: str = Field(description="Path of the OpenAPI document.")
    docs: str | None = Field(description="Path of the interactive documentation (Swagger UI), or null when it is off.")
    redoc: str | None = Field(description="Path of the API reference (ReDoc), or null when it is off.")
    metrics: str | None = Field(description="Path of the Prometheus metrics, or null when they are off.")


def root_route(index: ServiceIndex) -> APIRoute:
    """``GET /`` answering *index* as JSON."""

    async def get_root() -> JSONResponse:
        """Where to find this service's OpenAPI document, documentation and metrics."""
        return JSONResponse(status_code=200, content=index.model_dump())

    return APIRoute(ROOT_PATH, get_root, methods=["GET"], response_model=ServiceIndex)


def with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    return page


def docs_routes(title: str) -> list[BaseRoute]:
    """Swagger UI at ``/docs``, ReDoc at ``/redoc``, and their assets, all served by this app."""
    favicon = f"{DOCS_ASSETS_PATH}/favicon.png"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return with_policy(
            get_swagger_ui_html(
                openapi_url=root + OPENAPI_PATH,
                title=f"{title} - Swagger UI",
                oauth2_redirect_url=root + OAUTH2_REDIRECT_PATH,
                swagger_js_url=f"{root}{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{DOCS_ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=root + favicon,
            )
        )

    async def swagger_ui_oauth2_redirect(request: Request) -> HTMLResponse:
        return with_policy(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return with_policy(
            get_redoc_html(
                openapi_url=root + OPENAPI_PATH,
                title=f"{title} - ReDoc",
                redoc_js_url=f"{root}{DOCS_ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=root + favicon,
                with_google_fonts=False,
            )
        )

    return [
        Route(DOCS_PATH, swagger_ui, methods=["GET"], include_in_schema=False),
        Route(OAUTH2_REDIRECT_PATH, swagger_ui_oauth2_redirect, methods=["GET"], include_in_schema=False),
        Route(REDOC_PATH, redoc, methods=["GET"], include_in_schema=False),
        Mount(DOCS_ASSETS_PATH, StaticFiles(packages=[DOCS_ASSETS_PACKAGE]), name="docs-assets"),
    ]
