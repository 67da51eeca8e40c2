"""Domain errors that services raise, and how the API answers them."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

log = logging.getLogger("clicktrail")


class Invalid(Exception):
    """Input that is well-formed but not acceptable: 422, shaped like FastAPI's own errors."""

    def __init__(self, field: str | tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = ("body", *((field,) if isinstance(field, str) else field))
        self.message = message


class Conflict(Exception):
    """The request collides with something stored (a taken slug or coupon): 409."""


class NotFound(Exception):
    pass


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Invalid)
    async def _invalid(_request: Request, exc: Invalid) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"loc": list(exc.loc), "msg": exc.message, "type": "value_error"}]}, 422
        )

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 409)

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc) or "not found"}, 404)

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced for the same unique value; the loser gets a conflict, not a 500.
        log.info("integrity error answered as 409: %s", exc.orig)
        return JSONResponse({"detail": "conflicts with an existing record"}, 409)
