"""The redirect service over HTTP, with its table and click recorder in memory."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from common.config import Settings
from processors.links.app import create_app
from processors.links.logic import click_receipt, is_token
from processors.runtime.stage import Output

NOW = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
CONTEXT = {"message_id": "m-1", "idempotency_key": None, "campaign_id": "spring", "variant": "B", "lane": "MARKETING",
           "subscription_group": "promotions", "requested_at": NOW, "source": "test"}
LINK = {"token": "abcDEF123456", "url": "https://shop.example.com/spring?utm=sms", "context": CONTEXT,
        "recipient": "+33612345678", "channel": "SMS", "template_id": "promo_spring", "created_at": NOW}


class Recorder:
    """Notes the receipts it is given, as the real one queues them."""

    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self.written = self.failed = self.dropped = 0
        self.started = self.closed = False

    def start(self) -> None:
        self.started = True

    def record(self, output: Output) -> bool:
        self.outputs.append(output)
        return True

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder: Recorder):
    app = create_app(Settings(), table={LINK["token"]: LINK}, recorder=recorder, clock=lambda: NOW)  # type: ignore[arg-type]
    with TestClient(app, follow_redirects=False) as running:
        yield running
    assert recorder.started and recorder.closed


def test_a_click_redirects_and_is_recorded(client: TestClient, recorder: Recorder, assert_valid) -> None:
    response = client.get("/abcDEF123456")
    assert (response.status_code, response.headers["location"]) == (302, LINK["url"])
    assert response.headers["cache-control"] == "no-store"
    [receipt] = recorder.outputs
    assert_valid(receipt)
    assert (receipt.topic, receipt.key) == ("receipt", "+33612345678")
    assert {k: receipt.value[k] for k in ("status", "terminal", "stage", "detail", "channel", "context", "occurred_at")} == {
        "status": "CLICKED", "terminal": False, "stage": "links", "detail": LINK["url"], "channel": "SMS", "context": CONTEXT,
        "occurred_at": NOW}


def test_every_click_counts_but_a_head_does_not(client: TestClient, recorder: Recorder) -> None:
    assert client.head("/abcDEF123456").status_code == 302
    assert recorder.outputs == []
    for _ in range(3):
        client.get("/abcDEF123456")
    assert len(recorder.outputs) == 3


@pytest.mark.parametrize("path", ["/abcDEF123457", "/abc", "/abcDEF123456x", "/..%2F..%2Fetc", "/abcDEF12345%21"])
def test_unknown_or_malformed_tokens_get_the_404_page(client: TestClient, recorder: Recorder, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and "This link does not exist" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert recorder.outputs == []


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "links": 1, "clicks_written": 0, "clicks_failed": 0, "clicks_dropped": 0}


def test_tokens_and_receipts() -> None:
    assert is_token("abcDEF123456") and not is_token("abcDEF12345") and not is_token("abcDEF12345é")
    click = click_receipt(LINK, NOW).value
    assert (click["reason"], click["provider_status"]) == (f"link:{LINK['token']}", None)  # the link is the button
    later = click_receipt(LINK, NOW + timedelta(seconds=5)).value
    assert later["receipt_id"] != click["receipt_id"]  # each click a receipt of its own: repeats are counted


@pytest.mark.parametrize(("agent", "bot"), [
    ("facebookexternalhit/1.1 Facebot Twitterbot/1.0", True), ("WhatsApp/2.23.20.0 A", True), ("Slackbot-LinkExpanding 1.0", True),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1", False), (None, False)])
def test_a_previewers_visit_is_marked_and_still_redirected(client: TestClient, recorder: Recorder, agent: str | None, bot: bool) -> None:
    response = client.get("/abcDEF123456", headers={"User-Agent": agent} if agent else {})
    assert response.status_code == 302
    [receipt] = recorder.outputs
    assert receipt.value["provider_status"] == ("preview_bot" if bot else None)


def test_refusals_other_than_the_404_page_have_the_error_shape(client: TestClient) -> None:
    answer = client.post(f"/{LINK['token']}")
    assert answer.status_code == 405 and answer.json()["errors"][0]["code"] == "method_not_allowed"
    answer = client.get("/abcDEF999999", headers={"Accept": "application/json"})
    assert answer.status_code == 404 and answer.json()["errors"][0]["code"] == "not_found"
    assert client.get("/abcDEF999999", headers={"Accept": "text/html,application/json"}).text.startswith("<!doctype html>")


def test_the_service_serves_its_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]["/{token}"]) == {"get", "head"}
    assert {"302", "404"} <= set(spec["paths"]["/{token}"]["get"]["responses"])
