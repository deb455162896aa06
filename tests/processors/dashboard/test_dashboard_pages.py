"""The dashboard's pages on an app of their own, without a broker: the intake's key guard over fixed keys, rows made
by the status stage. Login cookie, scope, escaping, the panel the page polls, the CSP."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import new_key
from processors.dashboard.app import COOKIE, add_dashboard
from tests.processors.dashboard.flows import conversion, message, rows
from tests.processors.status.receipts import T0

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def dashboard() -> Iterator[tuple[TestClient, list[dict], dict[str, str]]]:
    made = {name: new_key(name, scopes, datetime.now(timezone.utc)) for name, scopes in
            (("reporter", ("reports:read",)), ("sender", ("messages:send",)))}
    guard = KeyGuard(Settings(), keys={key.key_id: key.record for key in made.values()})
    table = rows([*message("m1", HOSTILE, f"A{HOSTILE}", "sms", [f"https://x.example/?q={HOSTILE}"]),
                  *message("m2", HOSTILE, "B", "fallback")], conversions=[conversion("m2", HOSTILE, "B", event=HOSTILE)])
    app = FastAPI()
    add_dashboard(app, guard, lambda: table, clock=lambda: T0 + timedelta(minutes=5))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, table, {name: key.key for name, key in made.items()}


def test_without_a_key_the_page_asks_for_one(dashboard) -> None:
    client, _, _ = dashboard
    answer = client.get("/dashboard", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login?reason=missing_api_key"
    assert client.get("/dashboard/panel").status_code == 401
    login = client.get("/dashboard/login")
    assert login.status_code == 200 and 'action="/dashboard/login"' in login.text


def test_a_key_without_reports_read_is_refused(dashboard) -> None:
    client, _, keys = dashboard
    answer = client.get("/dashboard", headers={"Authorization": f"Bearer {keys['sender']}"})
    assert answer.status_code == 403 and "reports:read" in answer.text


def test_login_keeps_the_key_in_a_strict_httponly_cookie_and_shows_the_figures_escaped(dashboard) -> None:
    client, _, keys = dashboard
    answer = client.post("/dashboard/login", data={"key": keys["reporter"]}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    cookie = answer.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert HOSTILE not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'nonce-" in policy and "default-src 'none'" in policy and page.text.count("<script") == 1
    assert 'data-channel="RCS"' in page.text and 'data-channel="SMS"' in page.text
    assert "deliverability under 95 %" in page.text  # the RCS attempt that fell back
    assert '<span class="conversion-total">1</span>' in page.text
    panel = client.get("/dashboard/panel")
    assert panel.status_code == 200 and "<html" not in panel.text and "data-now" in panel.text and HOSTILE not in panel.text


def test_the_panel_follows_the_table(dashboard) -> None:
    client, table, keys = dashboard
    bearer = {"Authorization": f"Bearer {keys['reporter']}"}
    assert "2 messages" in client.get("/dashboard/panel", headers=bearer).text
    table[:] = rows([*message("m1", HOSTILE, "A", "sms"), *message("m2", HOSTILE, "B", "fallback"),
                     *message("m3", HOSTILE, "B", "rcs")])
    assert "3 messages" in client.get("/dashboard/panel", headers=bearer).text
