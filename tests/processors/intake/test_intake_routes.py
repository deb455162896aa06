"""Routing without a broker: every endpoint declares its scope in one table, and a guard gets exactly that scope."""
from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from common.config import Settings
from processors.access.scopes import SCOPES, undeclared
from processors.intake.api import create_app


def test_every_route_declares_its_scope() -> None:
    app = create_app(Settings())
    routes = {(method, route.path) for route in app.routes if isinstance(route, APIRoute) for method in route.methods}
    assert undeclared(app) == []
    assert {route: SCOPES[route] for route in routes} == {("POST", "/v1/messages"): "messages:send",
                                                          ("POST", "/v1/messages/batch"): "messages:send", ("GET", "/healthz"): None,
                                                          ("GET", "/v1/messages/{message_id}"): "messages:read",
                                                          ("GET", "/v1/campaigns/{campaign_id}"): "reports:read",
                                                          ("POST", "/v1/consent"): "consent:write", ("GET", "/metrics"): None,
                                                          ("POST", "/v1/conversions"): "conversions:write",
                                                          ("POST", "/v1/test-sends"): "templates:write",
                                                          **{route: scope for route, scope in SCOPES.items()
                                                             if route[1].startswith(("/v1/templates", "/studio"))},
                                                          **{route: scope for route, scope in SCOPES.items()
                                                             if route[1].startswith("/dashboard")}}


def test_a_guard_sees_the_route_scope_and_can_refuse() -> None:
    seen: list[str] = []

    def guard(scope: str) -> Callable[[], None]:
        def check() -> None:
            seen.append(scope)
            raise HTTPException(403, f"needs {scope}")
        return check

    client = TestClient(create_app(Settings(), guard=guard))  # no lifespan: nothing reaches Kafka
    answer = client.post("/v1/messages", json={"template_id": "otp", "recipient": "+33612345678"})
    assert answer.status_code == 403 and seen == ["messages:send"]
    assert client.post("/v1/messages/batch", json={"messages": []}).status_code == 403
    assert client.get("/healthz").status_code == 200  # open, for load-balancer probes
    assert seen == ["messages:send", "messages:send"]
