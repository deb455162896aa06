"""What a route of any Courrier HTTP service reads from its request: the body as a model, that body's OpenAPI
declaration, and the API key the access guard let through.

The body is a dependency of its own (``json_body``), not a FastAPI body parameter: FastAPI parses a body parameter
before any dependency runs, which answered malformed JSON with 422 to a caller without a key. Route dependencies (the
guard) are solved first, so the body is read only for a caller let through. FastAPI declares only body parameters in
the OpenAPI document, so each such route declares its body itself (``openapi_body``).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from processors.web.bodies import load_json

Model = TypeVar("Model", bound=BaseModel)


def json_body(model: type[Model]) -> Callable[[Request], Awaitable[Model]]:
    """A dependency reading the body as ``model``: 400 unreadable (not UTF-8, too deep), 422 not JSON or invalid fields."""

    async def read(request: Request) -> Model:
        try:
            data = load_json(await request.body())
        except ValueError as exc:  # json's JSONDecodeError; ApiError (400) goes to its own handler
            raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": f"JSON decode error: {exc}"}]) from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None

    return read


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route whose body ``json_body`` reads, its schema written in place
    (``inlined_schema``)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inlined_schema(model)}}}}


def inlined_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with its nested models written in place: a ``$ref`` to the schema's own ``$defs`` would
    point into the OpenAPI document's root, where they are not."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve({**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}})
            return {key: resolve(value) for key, value in node.items()}
        return [resolve(item) for item in node] if isinstance(node, list) else node

    return resolve(schema)


def api_key_id(request: Request) -> str | None:
    """The id of the API key the guard accepted for this request (None without access control)."""
    return getattr(request.state, "api_key_id", None)


def api_key_countries(request: Request) -> tuple[str, ...] | None:
    """The countries the accepted API key may send to (None: any, or no access control)."""
    return getattr(request.state, "api_key_countries", None)


def caller(request: Request) -> str:
    """Who a write is recorded as: ``api-key:<id>``, or ``api`` without access control."""
    key_id = api_key_id(request)
    return f"api-key:{key_id}" if key_id else "api"
