"""Domain errors that services raise, and how the API answers them: always JSON `{"detail"}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from clicktrail.db import NAMING_CONVENTION

log = logging.getLogger("clicktrail")

# FastAPI's words when a JSON body cannot even be decoded (it answers 400 for it).
_UNPARSEABLE_BODY = "There was an error parsing the body"


class Invalid(Exception):
    """Input that is well-formed but not acceptable: 422, shaped like FastAPI's own errors."""

    def __init__(self, field: str | tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = ("body", *((field,) if isinstance(field, str) else field))
        self.message = message


class Conflict(Exception):
    """The request collides with something stored (a taken slug or coupon): 409."""


class Forbidden(Exception):
    """Not allowed by the caller's role or key scope: 403."""


class NotFound(Exception):
    pass


def violates_unique(exc: IntegrityError, table: str, *columns: str) -> bool:
    """Whether `exc` is the unique constraint on (table, columns) and no other: PostgreSQL
    names the constraint (our naming convention), SQLite names the columns."""
    message = str(exc.orig)
    name = NAMING_CONVENTION["uq"] % {"table_name": table, "column_0_N_name": "_".join(columns)}
    return f'"{name}"' in message or f"UNIQUE constraint failed: {', '.join(f'{table}.{c}' for c in columns)}" in message


def _safe_errors(errors: Any) -> list[dict[str, Any]]:
    # Only where, what and why: the rejected input itself may be bytes or text JSON cannot carry.
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in errors]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Invalid)
    async def _invalid(_request: Request, exc: Invalid) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"loc": list(exc.loc), "msg": exc.message, "type": "value_error"}]}, 422
        )

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 409)

    @app.exception_handler(Forbidden)
    async def _forbidden(_request: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse({"detail": str(exc) or "not allowed for your role"}, 403)

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc) or "not found"}, 404)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        # An id in the path that cannot exist (not a number, out of range) names nothing: 404.
        if any(e.get("loc", ("",))[0] == "path" for e in errors):
            return JSONResponse({"detail": "not found"}, 404)
        return JSONResponse({"detail": _safe_errors(errors)}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSEABLE_BODY:
            return JSONResponse({"detail": "the body is not valid JSON"}, 422)
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error; it has been logged"}, 500)
