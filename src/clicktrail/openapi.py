"""The OpenAPI document, made honest: the bearer scheme the API takes, and the errors every route
really answers, all of them the `{"detail"}` body (errors.py). Checked by the fuzz test."""

from __future__ import annotations

from typing import Any

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"description": "What was wrong: a sentence, or a list of field errors."}},
}
_WHY = {
    400: "malformed body",
    401: "missing or invalid API key",
    403: "not allowed for this key or role",
    404: "not found (or another workspace's)",
    409: "conflicts with what is stored",
    410: "gone",
    413: "body too large",
    415: "a body of another media type than the route takes",
    422: "input the service cannot take",
    431: "request headers over 16 KiB",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route's own errors beyond the ones every route has."""
    return {code: {"description": _WHY[code]} for code in codes}


def _error(code: int) -> dict[str, Any]:
    return {"description": _WHY[code], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


DOCS_ASSETS = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """/docs and /redoc with their scripts served from the installed package (fastapi-offline
    ships Swagger UI and ReDoc), not a CDN: the docs work on a machine with no internet, and the
    pages load nothing from a third party. The app is made with docs_url=None, redoc_url=None."""
    assets = files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False)


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
        components = doc.setdefault("components", {})
        components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer", "description": "an API key"}}
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                codes = {422, 431}
                if path.startswith("/api/"):
                    operation["security"] = [{"bearer": []}]
                    codes.add(401)
                    if method.upper() not in ("GET", "HEAD", "OPTIONS"):
                        codes.add(403)  # a read-only key
                if "{" in path:
                    codes.add(404)
                if "requestBody" in operation:
                    codes.add(413)
                codes.update(int(c) for c in responses if str(c).startswith("4"))
                for code in codes:
                    responses[str(code)] = _error(code)
        doc["components"]["schemas"].pop("HTTPValidationError", None)
        doc["components"]["schemas"].pop("ValidationError", None)
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]
