"""The webhook receiver as a FastAPI app: ``POST /webhooks/{provider}``, ``GET /metrics``, ``GET /healthz``.

The body is read raw (the signature covers its exact bytes) and counted as it streams in, so an oversized one is
refused at the cap without being held. The rest of the request runs in the thread pool: it blocks until Kafka
has acknowledged the records (see ``service.py`` for every answer). Every refusal, Starlette's own 404/405 included,
has the API's ``{"errors"}`` shape, and the OpenAPI declares the raw body and each status ``service.py`` answers.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from common.config import SecretMissing, Settings
from processors.runtime.publisher import Publisher
from processors.runtime.stage import Output
from processors.web import errors as web_errors
from processors.web.metrics import serve_metrics
from processors.webhooks import inbound_media
from processors.webhooks.providers import providers
from processors.webhooks.replay import ReplayGuard
from processors.webhooks.service import WebhookMetrics, WebhookService
from processors.web.webhook_settings import WebhookSettings

TOPICS = ("provider-events", "inbound")
# The body is read raw (its bytes are signed): declared here, since FastAPI only declares body parameters.
_RAW_BODY = {"requestBody": {"required": True, "description": "The provider's event, exactly as signed (JSON, or a form for some providers).",
                             "content": {"application/json": {"schema": {"type": "object"}},
                                         "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}}


class WebhookSecretMissing(SecretMissing):
    """The receiver would refuse every request: no secret to check signatures with (there is no built-in one)."""


class RecordPublisher(Protocol):
    """What the receiver needs of a producer (``processors.runtime.publisher.Publisher`` in production)."""

    def start(self, logical_topics: Sequence[str]) -> None: ...

    def publish(self, outputs: Sequence[Output]) -> list[str | None]: ...

    def close(self) -> None: ...


def create_app(settings: Settings, webhook: WebhookSettings | None = None, publisher: RecordPublisher | None = None) -> FastAPI:
    """The receiver for ``settings``; its lifespan registers the topics' schemas and closes (flushes) the producer."""
    try:
        settings.secret("webhook_secret")
    except SecretMissing as missing:
        raise WebhookSecretMissing(str(missing)) from None
    webhook = webhook or WebhookSettings()
    producer = publisher or Publisher(settings, webhook.publish_timeout_s)
    service = WebhookService(providers(settings, webhook), producer.publish, ReplayGuard(2 * webhook.tolerance_s, webhook.replay_capacity),
                             WebhookMetrics(), webhook.max_body_bytes, prepare=inbound_media.from_settings(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        producer.start(TOPICS)
        try:
            yield
        finally:
            producer.close()

    app = FastAPI(title="Courrier webhook receiver", version="1", lifespan=lifespan)
    app.state.service = service
    serve_metrics(app, service.metrics.registry)  # accepted events and refused requests by reason
    web_errors.install(app)
    refusals = web_errors.responses({**service.statuses(), 422: "A path that is not a provider name."})

    @app.post("/webhooks/{provider}", responses=refusals, openapi_extra=_RAW_BODY)
    async def receive(provider: str, request: Request) -> Response:
        """A provider's signed event: 200 once its records are on Kafka; 4xx refused with a reason; 503 retry later."""
        body = await _read_capped(request, service.max_body_bytes)
        if body is None:
            answer = service.refuse(provider, service.too_large())
        else:
            headers = {name.lower(): value for name, value in request.headers.items()}
            answer = await run_in_threadpool(service.handle, provider, headers, body)
        if answer.text is not None:  # a provider's verification handshake wants its text back as is
            return PlainTextResponse(answer.text, status_code=answer.status)
        return JSONResponse(answer.body, status_code=answer.status)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Alive, with the providers served and the events remembered for replay detection."""
        return {"status": "ok", "providers": sorted(service.providers), "replay_keys": len(service.replays),
                "replay_evicted": service.replays.evicted}

    return app


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed ``limit`` (declared or counted)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
