"""The provider routes over HTTP: Google's OAuth token endpoint and RBM API, Twilio's Messages resource, and the legacy
aggregator API. Each call waits the configured latency, is answered by its provider module, and its answer is held
when the draw lost it. What each route answers is in ``sim.oauth``, ``sim.rbm``, ``sim.twilio`` and ``sim.legacy``."""
from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sim.legacy import LegacyAggregator
from sim.rbm import Caller, RbmApi
from sim.reply import Reply, aggregator_error, google_error
from sim.simulator import Simulator
from sim.twilio import TwilioApi, error

INVALID = object()
MESSAGES = "/2010-04-01/Accounts/{account}/Messages.json"


def respond(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers or None)


async def json_body(request: Request) -> Any:
    """The request's JSON body (None when empty), or ``INVALID`` when it is not JSON."""
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return INVALID


def provider_routes(sim: Simulator, legacy: LegacyAggregator, rbm: RbmApi, twilio: TwilioApi) -> APIRouter:
    """Every provider route over ``sim``."""
    router = APIRouter()

    async def served(answer: Callable[[], Reply]) -> JSONResponse:
        """Wait the configured latency, answer, and hold the answer as long as the reply says."""
        if sim.faults.latency_ms:
            await asyncio.sleep(sim.faults.latency_ms / 1000)
        reply = answer()
        if reply.hold_s:
            await asyncio.sleep(reply.hold_s)
        return respond(reply)

    # Google OAuth and RBM ------------------------------------------------------------------------------------------

    @router.post("/token")
    async def token(request: Request) -> JSONResponse:
        try:
            form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = {}
        posted_to = str(request.url.replace(query=""))
        return await served(lambda: sim.oauth.token(form, posted_to))

    async def as_agent(request: Request, agent_id: str | None, answer: Callable[[Caller], Reply]) -> JSONResponse:
        caller = rbm.caller(request.headers.get("authorization", ""), agent_id)
        if isinstance(caller, Reply):
            return respond(caller)
        return await served(lambda: answer(caller))

    @router.get("/v1/phones/{e164}/capabilities")
    async def capabilities(e164: str, request: Request) -> JSONResponse:
        query = request.query_params
        return await as_agent(request, query.get("agentId"), lambda caller: rbm.capability(e164, query.get("requestId"), caller))

    @router.post("/v1/users:batchGet")
    async def batch_get(request: Request) -> JSONResponse:
        body = await json_body(request)
        agent = body.get("agentId") if isinstance(body, dict) else None
        return await as_agent(request, agent, lambda caller: _bad_json() if body is INVALID else rbm.batch_get(body, caller))

    @router.post("/v1/phones/{e164}/agentMessages")
    async def agent_message(e164: str, request: Request) -> JSONResponse:
        body, query = await json_body(request), request.query_params
        return await as_agent(request, query.get("agentId"), lambda caller: _bad_json() if body is INVALID else rbm.agent_message(
            e164, query.get("messageId"), body, caller))

    @router.delete("/v1/phones/{e164}/agentMessages/{message_id}")
    async def revoke(e164: str, message_id: str, request: Request) -> JSONResponse:
        return await as_agent(request, request.query_params.get("agentId"), lambda _caller: rbm.revoke(e164, message_id))

    # Twilio -----------------------------------------------------------------------------------------------------------

    async def as_account(request: Request, account: str, answer: Callable[[], Reply]) -> JSONResponse:
        refused = twilio.refused_auth(request.headers.get("authorization", ""), account)
        return respond(refused) if refused is not None else await served(answer)

    @router.post(MESSAGES)
    async def twilio_create(account: str, request: Request) -> JSONResponse:
        try:
            form = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return respond(error(400, 20001, "The body is not UTF-8 application/x-www-form-urlencoded"))
        return await as_account(request, account, lambda: twilio.create(form))

    @router.get(MESSAGES)
    async def twilio_list(account: str, request: Request) -> JSONResponse:
        return await as_account(request, account, lambda: twilio.list(request.url.path, dict(request.query_params)))

    @router.get("/2010-04-01/Accounts/{account}/Messages/{sid}.json")
    async def twilio_fetch(account: str, sid: str, request: Request) -> JSONResponse:
        return await as_account(request, account, lambda: twilio.fetch(sid))

    # The legacy aggregator ----------------------------------------------------------------------------------------------

    async def with_token(request: Request, answer: Callable[[], Reply]) -> JSONResponse:
        expected = f"Bearer {sim.options.token}".encode()
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            return respond(aggregator_error(401, "unauthorized", "bad or missing bearer token"))
        return await served(answer)

    @router.post("/v1/messages")
    async def send(request: Request) -> JSONResponse:
        body = await json_body(request)
        return await with_token(request, lambda: aggregator_error(400, "invalid_request", "body is not JSON") if body is INVALID
                                else legacy.send(body))

    @router.get("/v1/messages")
    async def lookup(request: Request) -> JSONResponse:
        params = request.query_params
        return await with_token(request, lambda: legacy.lookup(params.get("client_ref"), params.get("provider", "aggregator")))

    return router


def _bad_json() -> Reply:
    return google_error(400, "INVALID_ARGUMENT", "body is not JSON")
