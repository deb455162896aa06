"""The simulator's ASGI app (FastAPI): the provider routes (``sim.routes``) and the unauthenticated ``/_sim/*`` control
routes (the server listens on 127.0.0.1 only).

Control routes:

- ``GET /_sim/health``: ``{"service": "courrier-sim", "messages", "rbm_agent_id", "client_email", "twilio_account_sid"}``.
- ``GET|POST /_sim/config``: the faults (``sim.faults.Faults``); a POST changes the fields it names, validated whole.
- ``POST /_sim/fail_next`` ``{"provider": "rbm"|"twilio"|"aggregator", "faults": [...]}``: the provider's next send
  requests each meet one fault, in order: ``lost_answer`` (made, answer held past the client's timeout),
  ``unauthorized`` (401), ``forbidden`` (403), ``throttled`` (429), ``server_error`` (503), ``bad_request`` (a
  permanent 4xx for that message).
- ``POST /_sim/inbound`` ``{"provider": "aggregator"|"rbm"|"twilio", "from": "+E164", "to"?: our number (not for rbm),
  "text", "postback_data"? (rbm: a suggestion reply), "typing"? (rbm: IS_TYPING), "media_urls"? (twilio)}``: the
  provider posts it now; 202 ``{"event_id"}``.
- ``POST /_sim/oauth/revoke``: every access token issued so far stops working (clients must fetch new ones).
- ``POST /_sim/rbm/verify_webhook``: RBM's webhook verification, as its console does it when a webhook is configured:
  posts ``{"clientToken", "secret"}`` to ``rbm_webhook_url``; ``{"verified": true}`` when the answer is 200 with the
  secret as its body.
- ``GET /_sim/stats?prefix=``, ``POST /_sim/reset``.
"""
from __future__ import annotations

import asyncio
import secrets
from contextlib import asynccontextmanager, suppress
from typing import Any, AsyncIterator, Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.credentials import public_info
from sim.legacy import LegacyAggregator
from sim.rbm import RbmApi
from sim.reply import Reply, aggregator_error
from sim.routes import INVALID, json_body, provider_routes, respond
from sim.simulator import SimOptions, Simulator
from sim.twilio import TwilioApi

SERVICE = "courrier-sim"


class _Inbound(BaseModel):
    """The body of ``POST /_sim/inbound``."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["aggregator", "rbm", "twilio"] = "aggregator"
    from_: str = Field(alias="from", min_length=1)
    to: str | None = Field(None, min_length=1)
    text: str = ""
    postback_data: str | None = None
    typing: bool = False
    media_urls: list[str] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _complete(self) -> _Inbound:
        if self.provider != "rbm" and self.to is None:
            raise ValueError("to (our number) is required")
        if not self.text and not self.typing and not self.media_urls:
            raise ValueError("text is required")
        if self.provider != "rbm" and (self.typing or self.postback_data is not None):
            raise ValueError("typing and postback_data are RBM's")
        if self.provider != "twilio" and self.media_urls:
            raise ValueError("media_urls are Twilio's")
        return self


class _FailNext(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    faults: list[str] = Field(min_length=1)


def create_app(options: SimOptions | None = None) -> FastAPI:
    """The ASGI app; its ``Simulator`` is ``app.state.sim`` and its webhook task lives as long as the app."""
    sim = Simulator(options or SimOptions())
    legacy = LegacyAggregator(sim)
    rbm, twilio = RbmApi(sim, legacy), TwilioApi(sim)

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
    app.include_router(provider_routes(sim, legacy, rbm, twilio))

    @app.get("/_sim/health")
    async def health() -> dict[str, Any]:
        return {"service": SERVICE, "messages": len(sim.store), "rbm_agent_id": sim.options.rbm_agent_id,
                **public_info(sim.credentials)}

    @app.get("/_sim/config")
    async def get_config() -> dict[str, Any]:
        return sim.faults.model_dump()

    @app.post("/_sim/config")
    async def set_config(request: Request) -> JSONResponse:
        body = await json_body(request)
        if not isinstance(body, dict):
            return respond(aggregator_error(400, "invalid_config", "body must be a JSON object of settings"))
        try:
            faults = sim.configure(body)
        except ValidationError as exc:
            return respond(aggregator_error(400, "invalid_config", _first_error(exc)))
        return JSONResponse(faults.model_dump())

    @app.post("/_sim/fail_next")
    async def fail_next(request: Request) -> JSONResponse:
        try:
            order = _FailNext.model_validate(await json_body(request))
            queued = sim.fail_next(order.provider, order.faults)
        except ValidationError as exc:
            return respond(aggregator_error(400, "invalid_request", _first_error(exc)))
        except ValueError as exc:
            return respond(aggregator_error(400, "invalid_request", str(exc)))
        return JSONResponse({"provider": order.provider, "queued": queued})

    @app.post("/_sim/inbound")
    async def inbound(request: Request) -> JSONResponse:
        body = await json_body(request)
        try:
            item = _Inbound.model_validate(None if body is INVALID else body)
        except ValidationError as exc:
            return respond(aggregator_error(400, "invalid_request", _first_error(exc)))
        reply: Reply
        if item.provider == "rbm":
            reply = rbm.inbound(item.from_, item.text, item.postback_data, item.typing)
        elif item.provider == "twilio":
            reply = twilio.inbound(item.from_, item.to or "", item.text, item.media_urls)
        else:
            reply = legacy.inbound(item.provider, item.from_, item.to or "", item.text)
        return respond(reply)

    @app.post("/_sim/oauth/revoke")
    async def revoke_tokens() -> dict[str, Any]:
        sim.oauth.revoke_all()
        return {"revoked": True}

    @app.post("/_sim/rbm/verify_webhook")
    async def verify_webhook() -> JSONResponse:
        url = sim.faults.rbm_webhook_url
        if url is None:
            return respond(aggregator_error(409, "no_webhook_url", "RBM webhooks are off (rbm_webhook_url is null)"))
        secret = str(secrets.randbelow(10**10)).zfill(10)  # RBM's secret is digits
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                answer = await client.post(url, json={"clientToken": sim.credentials.client_token, "secret": secret})
        except httpx.HTTPError as exc:
            return JSONResponse({"verified": False, "why": type(exc).__name__})
        verified = answer.status_code == 200 and answer.text == secret
        return JSONResponse({"verified": verified, "status": answer.status_code})

    @app.get("/_sim/stats")
    async def stats(prefix: str = "") -> dict[str, Any]:
        return sim.stats(prefix)

    @app.post("/_sim/reset")
    async def reset() -> dict[str, Any]:
        sim.reset()
        return {"reset": True}

    return app


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
