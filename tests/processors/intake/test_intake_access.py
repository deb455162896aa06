"""The intake behind its API-key guard, without a broker: keys come from a dict in place of the ``api-keys`` table.

A request that passes the guard reaches the service, which refuses an unknown template with 422 before
anything is published; so 422 ``unknown_template`` here means "let through".
"""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import NewKey, generate_key, new_key, revoked
from processors.access.scopes import SCOPES
from processors.intake.api import create_app
from processors.intake.cli import is_loopback
from processors.intake.settings import IntakeSettings

NOW = datetime(2030, 1, 2, tzinfo=timezone.utc)
UNKNOWN = {"template_id": "no-such-template", "recipient": "+33612345678"}


def app_with(*made: NewKey, revoked_keys: tuple[NewKey, ...] = (), max_body_bytes: int = 1024 * 1024) -> TestClient:
    records = {k.key_id: k.record for k in made} | {k.key_id: revoked(k.record, NOW) for k in revoked_keys}
    settings = Settings()
    app = create_app(settings, IntakeSettings(max_body_bytes=max_body_bytes), guard=KeyGuard(settings, keys=records))
    return TestClient(app)  # no lifespan: nothing reaches Kafka


def bearer(made: NewKey | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {made if isinstance(made, str) else made.key}"}


def let_through(answer) -> bool:
    return answer.status_code == 422 and answer.json()["errors"][0]["code"] == "unknown_template"


SENDER = new_key("billing", ("messages:send",), NOW)
READER = new_key("dashboards", ("reports:read",), NOW)
ADMIN = new_key("ops", ("admin",), NOW)
GONE = new_key("old-app", ("messages:send",), NOW)
client = app_with(SENDER, READER, ADMIN, revoked_keys=(GONE,))


def test_a_key_with_the_scope_or_admin_is_let_through() -> None:
    assert let_through(client.post("/v1/messages", json=UNKNOWN, headers=bearer(SENDER)))
    assert let_through(client.post("/v1/messages", json=UNKNOWN, headers=bearer(ADMIN)))
    assert client.post("/v1/messages/batch", json={"messages": [UNKNOWN]}, headers=bearer(SENDER)).status_code == 207


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}, {"X-Api-Key": SENDER.key}])
def test_no_bearer_key_is_401_with_a_bare_challenge(headers: dict[str, str]) -> None:
    answer = client.post("/v1/messages", json=UNKNOWN, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="courrier"'
    assert answer.json()["errors"][0]["code"] == "missing_api_key"


@pytest.mark.parametrize("token", ["hunter2", generate_key(), generate_key(SENDER.key_id), SENDER.key.upper()])
def test_an_unknown_or_wrong_key_is_401_invalid_token(token: str) -> None:
    answer = client.post("/v1/messages", json=UNKNOWN, headers=bearer(token))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="courrier", error="invalid_token"')
    assert answer.json() == {"errors": [{"code": "invalid_api_key", "message": "the API key is not valid"}]}
    assert token not in answer.text


def test_a_revoked_key_is_401() -> None:
    answer = client.post("/v1/messages", json=UNKNOWN, headers=bearer(GONE))
    assert answer.status_code == 401 and answer.json()["errors"][0]["code"] == "revoked_api_key"
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_a_key_without_the_scope_is_403_naming_it() -> None:
    for path, body in (("/v1/messages", UNKNOWN), ("/v1/messages/batch", {"messages": [UNKNOWN]})):
        answer = client.post(path, json=body, headers=bearer(READER))
        assert answer.status_code == 403
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="courrier", error="insufficient_scope", scope="messages:send"'
        assert answer.json()["errors"][0]["code"] == "insufficient_scope"


def test_the_key_is_checked_before_the_body() -> None:
    assert client.post("/v1/messages", json={"nonsense": 1}).status_code == 401


def test_health_needs_no_key() -> None:
    assert client.get("/healthz").status_code == 200


def test_a_burst_over_the_limit_is_429_with_retry_after() -> None:
    slow = new_key("slow", ("messages:send",), NOW, rate_per_s=0.01, burst=3)
    limited = app_with(slow)
    answers = [limited.post("/v1/messages", json=UNKNOWN, headers=bearer(slow)) for _ in range(5)]
    assert [let_through(a) for a in answers] == [True, True, True, False, False]
    assert {a.status_code for a in answers[3:]} == {429}
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers[3:])
    assert answers[3].json()["errors"][0]["code"] == "rate_limited"


def test_limits_are_per_key() -> None:
    slow, other = new_key("slow", ("messages:send",), NOW, rate_per_s=0.01, burst=1), new_key("other", ("messages:send",), NOW)
    limited = app_with(slow, other)
    assert let_through(limited.post("/v1/messages", json=UNKNOWN, headers=bearer(slow)))
    assert limited.post("/v1/messages", json=UNKNOWN, headers=bearer(slow)).status_code == 429
    assert let_through(limited.post("/v1/messages", json=UNKNOWN, headers=bearer(other)))


def test_a_batch_costs_one_token_per_message() -> None:
    slow = new_key("slow", ("messages:send",), NOW, rate_per_s=0.01, burst=5)
    limited = app_with(slow)
    assert limited.post("/v1/messages/batch", json={"messages": [UNKNOWN] * 5}, headers=bearer(slow)).status_code == 207
    assert limited.post("/v1/messages", json=UNKNOWN, headers=bearer(slow)).status_code == 429


def test_a_wrong_scope_or_a_bad_key_costs_no_token() -> None:
    slow = new_key("slow", ("reports:read",), NOW, rate_per_s=0.01, burst=1)
    limited = app_with(slow)
    for _ in range(3):
        assert limited.post("/v1/messages", json=UNKNOWN, headers=bearer(slow)).status_code == 403


def test_an_oversized_body_with_a_valid_key_is_413() -> None:
    capped = app_with(SENDER, max_body_bytes=1024)
    answer = capped.post("/v1/messages", json={**UNKNOWN, "variables": {"x": "y" * 2000}}, headers=bearer(SENDER))
    assert answer.status_code == 413 and answer.json()["errors"][0]["code"] == "payload_too_large"
    assert let_through(capped.post("/v1/messages", json=UNKNOWN, headers=bearer(SENDER)))


def test_the_guard_remembers_when_each_key_was_last_used() -> None:
    guard = client.app.state.guard
    before = guard.usage.last_used(ADMIN.key_id)
    client.post("/v1/messages", json=UNKNOWN, headers=bearer(ADMIN))
    after = guard.usage.last_used(ADMIN.key_id)
    assert after is not None and (before is None or after >= before)
    client.post("/v1/messages", json=UNKNOWN, headers=bearer(generate_key(READER.key_id)))
    assert guard.usage.last_used(READER.key_id) is None  # a wrong secret is not a use


def test_keys_are_required_by_default_and_only_an_explicit_switch_turns_them_off() -> None:
    assert isinstance(create_app(Settings()).state.guard, KeyGuard)
    assert isinstance(create_app(Settings(insecure_no_auth=False)).state.guard, KeyGuard)
    open_app = create_app(Settings(), insecure_no_auth=True)
    assert open_app.state.guard is None
    assert let_through(TestClient(open_app).post("/v1/messages", json=UNKNOWN))
    assert create_app(Settings(insecure_no_auth=True)).state.guard is None


def test_the_openapi_page_shows_the_bearer_scheme_and_each_route_scope() -> None:
    spec = client.app.openapi()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["ApiKey"]["description"]}
    for route in (r for r in client.app.routes if isinstance(r, APIRoute) and r.include_in_schema):  # not /metrics
        for method in route.methods:
            operation = spec["paths"][route.path][method.lower()]
            scope = SCOPES[(method, route.path)]
            if scope is None:
                assert "security" not in operation
            else:
                assert operation["security"] == [{"ApiKey": []}] and operation["x-required-scope"] == scope
                assert {"401", "403", "429"} <= set(operation["responses"])


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
                                            ("10.0.0.5", False), ("example.org", False)])
def test_only_loopback_addresses_count_as_local(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_refuses_to_turn_keys_off_on_a_public_address() -> None:
    result = subprocess.run([sys.executable, "-m", "courrier.entry", "api", "serve", "--host", "0.0.0.0", "--insecure-no-auth"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "loopback" in result.stderr
