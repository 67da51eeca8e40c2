"""The OpenAPI document, made honest: the bearer scheme the API takes, and the errors every route
really answers, all of them the `{"detail"}` body (errors.py). Checked by the fuzz test."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

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
