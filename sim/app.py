"""The simulator's HTTP routes (FastAPI): the RBM-shaped and aggregator-shaped provider APIs behind a bearer token,
and the unauthenticated ``/_sim/*`` control routes (the server listens on 127.0.0.1 only)."""
from __future__ import annotations

import asyncio
import hmac
import json
from contextlib import asynccontextmanager, suppress
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from sim.simulator import Reply, SimOptions, Simulator, aggregator_error, rbm_error

SERVICE = "courrier-sim"


def create_app(options: SimOptions | None = None) -> FastAPI:
    """The ASGI app; its ``Simulator`` is ``app.state.sim`` and its webhook task lives as long as the app."""
    sim = Simulator(options or SimOptions())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(sim.webhooks.run(), name="sim-webhooks")
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    app = FastAPI(title="Courrier provider simulator", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sim = sim

    async def provider_call(request: Request, rbm: bool, answer: Callable[[], Reply]) -> JSONResponse:
        """Check the token, wait the configured latency, answer, and hold the answer when the reply says so."""
        expected = f"Bearer {sim.options.token}".encode()
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            denied = rbm_error(401, "UNAUTHENTICATED", "bad or missing bearer token") if rbm else \
                aggregator_error(401, "unauthorized", "bad or missing bearer token")
            return _respond(denied)
        if sim.faults.latency_ms:
            await asyncio.sleep(sim.faults.latency_ms / 1000)
        reply = answer()
        if reply.hold_s:
            await asyncio.sleep(reply.hold_s)
        return _respond(reply)

    @app.get("/v1/phones/{e164}/capabilities")
    async def capabilities(e164: str, request: Request) -> JSONResponse:
        return await provider_call(request, True, lambda: sim.capability(e164))

    @app.post("/v1/users:batchGet")
    async def batch_get(request: Request) -> JSONResponse:
        body = await _json(request)
        return await provider_call(request, True, lambda: _bad_json(True) if body is _INVALID else sim.batch_get(body))

    @app.post("/v1/phones/{e164}/agentMessages")
    async def agent_message(e164: str, request: Request) -> JSONResponse:
        body = await _json(request)
        message_id = request.query_params.get("messageId")
        return await provider_call(request, True,
                                   lambda: _bad_json(True) if body is _INVALID else sim.agent_message(e164, message_id, body))

    @app.post("/v1/messages")
    async def send(request: Request) -> JSONResponse:
        body = await _json(request)
        return await provider_call(request, False, lambda: _bad_json(False) if body is _INVALID else sim.aggregator_send(body))

    @app.get("/v1/messages")
    async def lookup(request: Request) -> JSONResponse:
        params = request.query_params
        return await provider_call(request, False, lambda: sim.lookup(params.get("client_ref"), params.get("provider", "aggregator")))

    @app.get("/_sim/health")
    async def health() -> dict[str, Any]:
        return {"service": SERVICE, "messages": len(sim.store)}

    @app.get("/_sim/config")
    async def get_config() -> dict[str, Any]:
        return sim.faults.model_dump()

    @app.post("/_sim/config")
    async def set_config(request: Request) -> JSONResponse:
        body = await _json(request)
        if not isinstance(body, dict):
            return _respond(aggregator_error(400, "invalid_config", "body must be a JSON object of settings"))
        try:
            faults = sim.configure(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            return _respond(aggregator_error(400, "invalid_config", f"{where}: {first['msg']}"))
        return JSONResponse(faults.model_dump())

    @app.get("/_sim/stats")
    async def stats(prefix: str = "") -> dict[str, Any]:
        return sim.stats(prefix)

    @app.post("/_sim/inbound")
    async def inbound(request: Request) -> JSONResponse:
        body = await _json(request)
        return _respond(_bad_json(False) if body is _INVALID else sim.inbound(body))

    @app.post("/_sim/reset")
    async def reset() -> dict[str, Any]:
        sim.reset()
        return {"reset": True}

    return app


_INVALID = object()


async def _json(request: Request) -> Any:
    """The request's JSON body, or ``_INVALID`` when it is not JSON."""
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return _INVALID


def _bad_json(rbm: bool) -> Reply:
    return rbm_error(400, "INVALID_ARGUMENT", "body is not JSON") if rbm else aggregator_error(400, "invalid_request", "body is not JSON")


def _respond(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers or None)
