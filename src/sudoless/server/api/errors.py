"""Errors of the JSON API: every failure is ``{"error": "..."}`` with an HTTP status that says its kind.

The library raises :mod:`sudoless.errors` exceptions; this module maps them once, so routes only call the
library and never translate errors themselves:

====================  ======  ==========================================================
exception             status  meaning
====================  ======  ==========================================================
InputError            400     the request is malformed or a value is invalid
AuthError             401     no token, or an expired or unknown one (log in again)
ThrottledError        429     too many failed logins for the user or the address
PermissionDenied      403     logged in, but without the permission the action needs
NotFoundError         404     the project, flow, job, execution, schedule or user is missing
StateError            409     the current state forbids it (already running, locked, finished)
StoreError            503     the database cannot be reached
====================  ======  ==========================================================

Request validation (FastAPI's 422) is answered as 400 in the same shape, unless the request's deferred
dependencies (:func:`.routing.settle`: the session, the CSRF check) refuse it, as they did when they ran
before its parameters were validated. An unexpected exception is logged with its traceback on the server
and answered as a bare 500 ``{"error": ...}`` without one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from sudoless.errors import (
    AuthError,
    InputError,
    NotFoundError,
    PermissionDenied,
    StateError,
    StoreError,
    SudolessError,
    ThrottledError,
)
from sudoless.server.api.routing import settle

__all__ = ["ErrorBody", "HttpError", "error_responses", "install_handlers"]

log = logging.getLogger(__name__)

#: Most specific first: ThrottledError is an AuthError.
STATUS: tuple[tuple[type[SudolessError], int], ...] = (
    (ThrottledError, 429),
    (AuthError, 401),
    (PermissionDenied, 403),
    (NotFoundError, 404),
    (InputError, 400),
    (StateError, 409),
    (StoreError, 503),
)

DESCRIPTIONS = {
    400: "Bad input: a malformed request or an invalid value.",
    401: "No bearer token, or an expired or unknown one: log in again.",
    403: "The caller lacks the permission the action needs.",
    404: "The project, flow, job, execution, schedule or user does not exist.",
    409: "The current state forbids the action (already running, locked, already finished).",
    413: "The upload is larger than the server accepts.",
    429: "Too many failed logins: wait before trying again.",
}


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: str


class HttpError(Exception):
    """A refusal decided at the HTTP layer (a missing token, a CSRF failure), with its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: the error statuses it may answer, documented with :class:`ErrorBody`."""
    wanted = sorted({400, 401, *statuses})
    return {status: {"model": ErrorBody, "description": DESCRIPTIONS[status]} for status in wanted}


def status_of(exc: SudolessError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))


def _validation_message(errors: Iterable[Any]) -> str:
    parts = []
    for error in list(errors)[:5]:
        where = ".".join(str(item) for item in error.get("loc", ()) if item not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_handlers(app: FastAPI) -> None:
    """Render every error as :class:`ErrorBody` (see the module docstring)."""

    async def library_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SudolessError)
        status = status_of(exc)
        if status == 500:
            log.error("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _error(status, str(exc), headers)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HttpError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error(exc.status, str(exc), headers)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        try:  # the dependencies FastAPI solved before it validated the parameters refuse first
            await settle(request)
        except HttpError as refused:
            return await http_error(request, refused)
        except SudolessError as failed:
            return await library_error(request, failed)
        except Exception as broken:
            return await unexpected(request, broken)
        return _error(400, _validation_message(exc.errors()))

    async def starlette_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, str(exc.detail), exc.headers)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(500, "internal server error; the server log has the details")

    app.add_exception_handler(SudolessError, library_error)
    app.add_exception_handler(HttpError, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, starlette_error)
    app.add_exception_handler(Exception, unexpected)
