"""A request body cap as plain ASGI middleware: 413 with the API's JSON error before the body is parsed.

It trusts neither the ``Content-Length`` header (chunked bodies have none) nor the client: the body
is counted as it arrives and reading stops at the first byte over the cap.
"""
from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """Refuse any HTTP request whose body exceeds ``max_bytes`` with 413; pass the others on with their body intact."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            await self._refuse(scope, receive, send)
            return
        received: list[Message] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self._max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self._app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = {"code": "payload_too_large", "message": f"the request body exceeds {self._max_bytes} bytes"}
        await JSONResponse({"errors": [problem]}, status_code=413)(scope, receive, send)
