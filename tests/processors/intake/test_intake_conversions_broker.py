"""POST /v1/conversions and POST /v1/test-sends on a running intake with the real broker: a conversion attributed from
the links and message-status tables, counted once even after a restart (conversion-ids), and test sends marked test."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from intake_server import create_key, read_topic, serve

from common.config import Settings
from processors.runtime.publisher import write_now
from processors.receipts import receipt
from processors.runtime.stage import Output
from processors.status.logic import project

TEAM = "+33612345678"


@pytest.fixture(scope="module")
def settings(intake_topics: Settings) -> Settings:
    return intake_topics.model_copy(update={"test_numbers": TEAM})


def test_a_conversion_is_attributed_once_and_a_replay_after_a_restart_gets_the_first_result(settings: Settings) -> None:
    now = datetime.now(timezone.utc)
    context = {"message_id": "m-conv-1", "idempotency_key": None, "campaign_id": "spring", "variant": "B", "lane": "MARKETING",
               "subscription_group": "promotions", "requested_at": now - timedelta(hours=2), "source": "campaign"}
    sent = receipt(context, "+33612345679", "SENT", "receipt", now - timedelta(hours=1), channel="SMS").value
    link = {"token": "convTOKEN001", "url": "https://shop.test/a", "context": context, "recipient": "+33612345679", "channel": "SMS",
            "template_id": "promo_spring", "created_at": now - timedelta(hours=1)}
    write_now(settings, [Output("message-status", "m-conv-1", project(None, sent, now)), Output("links", link["token"], link)])
    key = create_key(settings, ("conversions:write",), name="shop")
    body = {"conversion_id": "order-77", "link_token": link["token"], "event": "purchase", "value": "12.5", "currency": "EUR"}
    with serve(settings) as served, served.client(key.key) as client:
        first = client.post("/v1/conversions", json=body)
        again = client.post("/v1/conversions", json=body)
        unknown = client.post("/v1/conversions", json={**body, "conversion_id": "order-78", "link_token": "nopeNOPE0000"})
    assert first.status_code == 201, first.text
    assert (first.json()["campaign_id"], first.json()["variant"], first.json()["button"]) == ("spring", "B", "link:convTOKEN001")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "unknown_link_token"
    with serve(settings) as served, served.client(key.key) as client:  # a new process: the conversion-ids table remembers
        later = client.post("/v1/conversions", json=body)
    assert later.status_code == 200 and later.json() == {**first.json(), "replayed": True}
    [(message_key, conversion)] = read_topic(settings, "conversions", 1, settle_s=2)
    assert message_key == "m-conv-1" and (conversion["conversion_id"], conversion["value_micros"]) == ("order-77", 12_500_000)


def test_test_sends_reach_send_requested_marked_as_test(settings: Settings) -> None:
    key = create_key(settings, ("templates:write",), name="studio")
    with serve(settings) as served, served.client(key.key) as client:
        refused = client.post("/v1/test-sends", json={"template_id": "otp", "to": ["+33612345679"], "variables": {"code": "1"}})
        answer = client.post("/v1/test-sends", json={"template_id": "otp", "to": [TEAM], "variables": {"code": "1"}})
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "not_a_test_number"
    assert answer.status_code == 202, answer.text
    [(number, request)] = [(k, v) for k, v in read_topic(settings, "send-requested", 1, settle_s=2) if v["context"]["source"] == "test-send"]
    assert number == TEAM and request["context"]["test"] is True
    assert request["context"]["message_id"] == answer.json()["messages"][0]["message_id"]
