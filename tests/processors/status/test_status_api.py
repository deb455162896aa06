"""GET /v1/messages/{id} and GET /v1/campaigns/{id} on the intake app, over rows in memory (no Kafka: no lifespan)."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi.testclient import TestClient
from receipts import T0, context, made

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import new_key
from processors.access.scopes import undeclared
from processors.intake.api import create_app
from processors.status.logic import campaign_key, counted, project
from processors.status.reader import StatusReader

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)
READER = new_key("dashboard", ("messages:read", "reports:read"), NOW)
OTHER = new_key("other-app", ("messages:read",), NOW)
SENDER_ONLY = new_key("sender", ("messages:send",), NOW)
OPERATOR = new_key("operator", ("admin",), NOW)


def client() -> TestClient:
    mine = context("m-1", campaign_id="spring", variant="A", api_key_id=READER.key_id)
    row = None
    counts: dict[str, dict] = {}
    for receipt, partition in ((made("SENT", mine), 0), (made("DELIVERED", mine, seconds=4), 0)):
        after = project(row, receipt, T0)
        key = campaign_key("spring", partition)
        counts[key] = counted(counts.get(key), row, after, receipt, partition, T0)
        row = after
    other = made("SENT", context("m-2", campaign_id="spring", variant="B"), provider_message_id="p-2")
    other_row = project(None, other, T0)
    counts[campaign_key("spring", 1)] = counted(None, None, other_row, other, 1, T0)
    reader = StatusReader(Settings(), messages={"m-1": row, "m-2": other_row}, campaigns=counts, partitions=3)
    keys = {k.key_id: k.record for k in (READER, OTHER, SENDER_ONLY, OPERATOR)}
    return TestClient(create_app(Settings(), guard=KeyGuard(Settings(), keys=keys), status=reader))


def auth(key) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.key}"}


def test_a_message_shows_status_channel_cost_and_history() -> None:
    answer = client().get("/v1/messages/m-1", headers=auth(READER))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["terminal"], body["channel"], body["segments"]) == ("delivered", True, "sms", 1)
    assert (body["cost_micros"], body["currency"], body["campaign_id"], body["variant"]) == (45000, "EUR", "spring", "A")
    assert [h["status"] for h in body["history"]] == ["sent", "delivered"]


def test_unknown_and_other_keys_messages_are_404_in_the_error_shape() -> None:
    app = client()
    for key, message_id in ((READER, "nope"), (OTHER, "m-1")):
        answer = app.get(f"/v1/messages/{message_id}", headers=auth(key))
        assert answer.status_code == 404
        assert answer.json()["errors"][0]["code"] == "not_found"
    assert app.get("/v1/messages/m-2", headers=auth(OTHER)).status_code == 200  # no key sent it: any reader sees it
    assert app.get("/v1/messages/m-1", headers=auth(OPERATOR)).status_code == 200  # an admin key reads every message


def test_reading_needs_its_scope() -> None:
    app = client()
    assert app.get("/v1/messages/m-1", headers=auth(SENDER_ONLY)).status_code == 403
    assert app.get("/v1/campaigns/spring", headers=auth(OTHER)).status_code == 403
    assert app.get("/v1/messages/m-1").status_code == 401


def test_a_campaign_adds_its_partitions_up() -> None:
    app = client()
    body = app.get("/v1/campaigns/spring", headers=auth(READER)).json()
    assert (body["messages"], body["statuses"], body["cost_micros"], body["segments"]) == (2, {"delivered": 1, "sent": 1}, 90000, 2)
    assert {(r["variant"], r["status"], r["count"]) for r in body["receipts"]} == {("A", "sent", 1), ("A", "delivered", 1), ("B", "sent", 1)}
    missing = app.get("/v1/campaigns/autumn", headers=auth(READER))
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "not_found"


def test_every_route_declares_its_scope() -> None:
    assert undeclared(client().app) == []
