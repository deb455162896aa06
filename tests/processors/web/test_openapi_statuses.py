"""Every HTTP service's OpenAPI declares its request bodies and each status its tests see it answer.

Each app is driven through the answers its own tests observe (without a broker: guards over a dict of keys,
a publisher that records or fails, a links table in memory); every (operation, status) seen must be declared
in the app's ``/openapi.json``, with the ``{"errors"}`` schema for a JSON error. 404/405 on a path that is
no operation cannot be declared and are only checked for their shape.
"""
from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import new_key
from processors.intake.api import create_app as intake_app
from processors.links.app import create_app as links_app
from processors.runtime.stage import Output
from processors.webhooks.api import create_app as webhook_app
from processors.web.webhook_settings import WebhookSettings
from processors.web.webhook_signature import sign

NOW = datetime(2030, 1, 2, tzinfo=timezone.utc)
SECRET = "s" * 32
Probe = Callable[[TestClient], object]

# Actions on a resource named by the path alone: nothing to send, so no body to declare.
BODILESS_ACTIONS = {("post", "/v1/templates/{template_id}/versions/{version}/publish")}


class Publisher:
    """Records, or fails every record as an unreachable broker would."""

    failing = False

    def start(self, logical_topics: Sequence[str]) -> None: ...

    def publish(self, outputs: Sequence[Output]) -> list[str | None]:
        return ["unreachable" if self.failing else None for _ in outputs]

    def close(self) -> None: ...


def operation(app: FastAPI, method: str, path: str) -> str | None:
    """The OpenAPI path template of the operation that serves ``method path`` (None: no route, or one outside the OpenAPI)."""
    for route in app.routes:  # in the router's order: the first route that matches serves the request
        if isinstance(route, Route) and method in (route.methods or ()) and route.path_regex.match(path):
            return route.path if isinstance(route, APIRoute) and route.include_in_schema else None
    return None


def observed(app: FastAPI, probes: Sequence[Probe]) -> set[tuple[str, str | None, int, str]]:
    """(method, operation, status, content type) of every answer the probes got."""
    seen = set()
    with TestClient(app, follow_redirects=False) as client:
        for probe in probes:
            answer = probe(client)
            request = answer.request
            seen.add((request.method, operation(app, request.method, request.url.path), answer.status_code,
                      answer.headers.get("content-type", "").split(";")[0]))
    return seen


def check(app: FastAPI, probes: Sequence[Probe], expected: set[int]) -> None:
    spec = app.openapi()
    seen = observed(app, probes)
    assert {status for _, _, status, _ in seen} == expected, sorted(seen, key=str)  # the probes reach what they mean to
    for method, path, status, content in seen:
        if path is None:  # the OpenAPI document itself, or no route at all
            assert status == 200 or (status in (404, 405) and content == "application/json")
            continue
        declared = spec["paths"][path][method.lower()]["responses"]
        assert str(status) in declared, f"{method} {path} answers {status}, undeclared"
        if status >= 400 and content == "application/json":
            assert declared[str(status)]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("post", "put", "patch") and (method, path) not in BODILESS_ACTIONS:
                assert op.get("requestBody", {}).get("content"), f"{method} {path} declares no request body"


def test_the_intake_declares_what_it_answers() -> None:
    sender, reader = new_key("billing", ("messages:send",), NOW), new_key("dash", ("reports:read",), NOW, rate_per_s=0.01, burst=1)
    settings = Settings()
    app = intake_app(settings, guard=KeyGuard(settings, keys={k.key_id: k.record for k in (sender, reader)}))
    app.router.lifespan_context = _no_lifespan  # nothing reaches Kafka: the 202/200/500/503 paths are the broker tests'
    key = {"Authorization": f"Bearer {sender.key}"}
    probes: list[Probe] = [
        lambda c: c.post("/v1/messages", json={}),
        lambda c: c.post("/v1/messages", json={}, headers={"Authorization": f"Bearer {reader.key}"}),
        lambda c: c.post("/v1/messages", content=b"[" * 100 + b"]" * 100, headers=key),
        lambda c: c.post("/v1/messages", json={"template_id": "nope", "recipient": "+33612345678"}, headers=key),
        lambda c: c.post("/v1/messages", content=b"x" * 2_000_000, headers=key),
        lambda c: c.post("/v1/messages/batch", json={"messages": [{}]}, headers=key),
        lambda c: c.get("/healthz"), lambda c: c.get("/v1/messages"), lambda c: c.get("/nothing"),
    ]
    check(app, probes, {200, 207, 400, 401, 403, 404, 405, 413, 422})
    declared = app.openapi()["paths"]["/v1/messages"]["post"]["responses"]
    assert {"200", "202", "400", "401", "403", "413", "422", "429", "500", "503"} <= set(declared)


def test_the_webhook_receiver_declares_what_it_answers() -> None:
    publisher = Publisher()
    app = webhook_app(Settings(webhook_secret=SECRET), WebhookSettings(max_body_bytes=4096), publisher)

    def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
        at = int(time.time())
        return {"Content-Type": "application/json", "X-Courrier-Timestamp": str(at), "X-Courrier-Signature": sign(secret, at, body)}

    event = b'{"event_id": "e-%d", "type": "delivery", "provider": "aggregator", "message_id": "a", "client_ref": "m", "status": "DELIVERED", ' \
            b'"error_code": null, "from": null, "to": null, "text": null, "occurred_at": "2026-03-02T09:03:04.000Z"}'

    def failing(c: TestClient) -> object:
        publisher.failing = True
        try:
            return c.post("/webhooks/sim", content=event % 2, headers=signed(event % 2))
        finally:
            publisher.failing = False

    probes: list[Probe] = [
        lambda c: c.post("/webhooks/sim", content=event % 1, headers=signed(event % 1)),
        lambda c: c.post("/webhooks/sim", content=b"{"), lambda c: c.post("/webhooks/sim", content=b"{", headers=signed(b"{", "x" * 32)),
        lambda c: c.post("/webhooks/sim", content=b"[" * 100 + b"]" * 100, headers=signed(b"[" * 100 + b"]" * 100)),
        lambda c: c.post("/webhooks/nobody", content=b"{}"), lambda c: c.post("/webhooks/sim", content=b"x" * 5000), failing,
        lambda c: c.get("/healthz"), lambda c: c.get("/metrics"), lambda c: c.get("/webhooks/sim"),
    ]
    check(app, probes, {200, 400, 401, 403, 404, 405, 413, 503})
    declared = app.openapi()["paths"]["/webhooks/{provider}"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "413", "503"} <= set(declared)


def test_the_link_service_declares_what_it_answers() -> None:
    link = {"token": "abcDEF123456", "url": "https://shop.example.com/", "context": {}, "recipient": "+33612345678", "channel": "SMS"}

    class Clicks:
        written = failed = dropped = 0

        def start(self) -> None: ...

        def record(self, _output: Output) -> bool:
            return True

        def close(self) -> None: ...

    app = links_app(Settings(), table={link["token"]: link}, recorder=Clicks(), clock=lambda: NOW)  # type: ignore[arg-type]
    probes: list[Probe] = [lambda c: c.head("/abcDEF123456"), lambda c: c.get("/abcDEF999999"),
                           lambda c: c.get("/abcDEF999999", headers={"Accept": "application/json"}), lambda c: c.get("/healthz"),
                           lambda c: c.post("/abcDEF123456"), lambda c: c.get("/openapi.json")]
    check(app, probes, {200, 302, 404, 405})


@pytest.fixture(autouse=True)
def _quiet_guard_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR")


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
