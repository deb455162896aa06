"""The redirect service as a FastAPI app: ``GET /{token}`` → 302 to the original URL, and a ``CLICKED`` receipt.

The ``links`` table (a compacted topic, loaded at start and followed) answers the lookup in memory; the
receipt is queued, never awaited. ``HEAD`` redirects without counting a click (link previewers and
crawlers probe with it). An unknown or malformed token gets a small 404 page for a browser, or the API's
``{"errors"}`` shape for a client that asks for JSON (``Accept: application/json`` without ``text/html``); every other
refusal (405…) has the ``{"errors"}`` shape. The OpenAPI at ``/openapi.json`` declares each answer.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from common.config import Settings
from processors.links.clicks import ClickRecorder
from processors.links.logic import click_receipt, is_token
from processors.links.metrics import ClickMetrics
from processors.runtime.table import TopicTable
from processors.web import errors as web_errors
from processors.web.metrics import serve_metrics

NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Link not found</title></head>
<body style="font-family: sans-serif; max-width: 30em; margin: 4em auto; padding: 0 1em">
<h1>This link does not exist</h1><p>It may be mistyped, or it has expired.</p></body></html>
"""
# Each click must reach this service (no cached redirect), and the destination need not learn where it came from.
_REDIRECT_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_FOLLOW_RESPONSES: dict[int | str, dict[str, Any]] = {
    302: {"description": "Redirect to the link's URL (Location); a GET counts a click, a HEAD does not."},
    404: {"description": "No such link: an HTML page, or the error shape for a client that accepts JSON but not HTML.",
          "content": {"text/html": {"schema": {"type": "string"}},
                      "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
    422: {"model": web_errors.ErrorBody, "description": "A path the router could not read."},
}


def create_app(settings: Settings, table: Any = None, recorder: ClickRecorder | None = None,
               clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> FastAPI:
    """The redirect app; its lifespan loads the ``links`` table and closes the producer (``table``/``recorder`` replace them)."""
    links = table if table is not None else TopicTable(settings, "links")
    clicks = recorder or ClickRecorder(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        clicks.start()
        if isinstance(links, TopicTable):
            links.start()
        try:
            yield
        finally:
            if isinstance(links, TopicTable):
                links.stop()
            clicks.close()

    # The OpenAPI only: the docs pages would load scripts from a CDN on a public, unauthenticated host.
    app = FastAPI(title="Courrier links", version="1", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.links = links
    app.state.clicks = clicks
    serve_metrics(app, ClickMetrics(clicks).registry)  # before /{token}, which would take /metrics for a link
    web_errors.install(app)
    refuse = app.exception_handlers[HTTPException]

    @app.exception_handler(HTTPException)
    async def not_found(request: Request, exc: HTTPException) -> Response:
        """Any path that is no link (two segments, nothing at all) gets the same answer as an unknown token."""
        return _not_found(request) if exc.status_code == 404 else await refuse(request, exc)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "links": len(links), "clicks_written": clicks.written, "clicks_failed": clicks.failed,
                "clicks_dropped": clicks.dropped}

    async def follow(token: str, request: Request) -> Response:
        """Redirect to the link's URL."""
        link = links.get(token) if is_token(token) else None
        if link is None:
            return _not_found(request)
        if request.method == "GET":
            clicks.record(click_receipt(link, clock(), request.headers.get("user-agent")))
        return RedirectResponse(link["url"], status_code=302, headers=_REDIRECT_HEADERS)

    for method in ("GET", "HEAD"):  # one operation each: an OpenAPI operation id names one method
        app.add_api_route("/{token}", follow, methods=[method], status_code=302, response_class=RedirectResponse,
                          responses=_FOLLOW_RESPONSES, operation_id=f"follow_link_{method.lower()}")

    return app


def _not_found(request: Request) -> Response:
    """The HTML page for a browser; the API's error shape for a client that accepts JSON and not HTML."""
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return web_errors.error_response(404, "not_found", "this link does not exist (mistyped, or expired)", {"Cache-Control": "no-store"})
    return HTMLResponse(NOT_FOUND_PAGE, status_code=404, headers={"Cache-Control": "no-store"})
