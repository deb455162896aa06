"""The one error shape of every HTTP service, ``{"errors": [{"code", "message", ...}]}``, and the handlers that keep it.

Starlette and FastAPI answer their own refusals (404 no route, 405 wrong method, 400 a body they
could not read) as ``{"detail": ...}``; ``install`` makes them answer in the API's shape instead, so
a caller parses one format whatever refused it. ``ApiError`` is what application code raises for a
refusal of its own; ``ERROR_BODY`` is the schema the OpenAPI of each service declares for every 4xx/5xx.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

# Starlette's own refusals, named as the API names its codes.
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          406: "not_acceptable", 413: "payload_too_large", 415: "unsupported_media_type"}


class Problem(BaseModel):
    """One reason a request was refused: a machine-readable code and a sentence (and, where one field is at fault, its name;
    where a template is at fault, the variables it lacks or the templates there are)."""

    code: str
    message: str
    field: str | None = None
    missing_variables: list[str] | None = None
    known_templates: list[str] | None = None


class ErrorBody(BaseModel):
    """Every error answer of every Courrier HTTP service has this shape."""

    errors: list[Problem]


class ApiError(Exception):
    """A refusal answered as ``{"errors": [{code, message}]}`` with ``status`` (and optional headers)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "the request was refused"
    return error_response(exc.status_code, _CODES.get(exc.status_code, "http_error"), message, dict(exc.headers or {}) or None)


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():  # the field's name and pydantic's sentence, never the input it refused
        field = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "path", "query", "header")) or None
        problems.append({"code": error.get("type", "invalid"), "message": error.get("msg", "invalid"), **({"field": field} if field else {})})
    return JSONResponse({"errors": problems}, status_code=422)


def install(app: FastAPI) -> None:
    """Answer ``ApiError``, every Starlette/FastAPI ``HTTPException`` and request validation errors in the API's error shape.

    An app with a richer validation answer (the intake's) registers its own handler after this one.
    """
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _invalid)


def responses(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring each status with the error shape and its description."""
    return {status: {"model": ErrorBody, "description": text} for status, text in described.items()}
