"""POST /v1/conversions on the intake app over tables in memory (no Kafka): attribution to message, campaign, variant
and button; unknown message or token 404; replay 200 with the first result, written once; out of window 422; scope."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import new_key
from processors.access.scopes import undeclared
from processors.conversions.desk import ConversionDesk
from processors.intake.api import create_app
from processors.runtime.stage import Output
from processors.status.reader import StatusReader

NOW = datetime(2030, 1, 10, 12, 0, tzinfo=timezone.utc)
SENT_AT = NOW - timedelta(days=2)
SHOP = new_key("shop", ("conversions:write",), NOW)
SENDER = new_key("sender", ("messages:send",), NOW)
CONTEXT = {"message_id": "m-1", "idempotency_key": None, "campaign_id": "spring", "variant": "B", "lane": "MARKETING",
           "subscription_group": "promotions", "requested_at": SENT_AT - timedelta(minutes=1), "source": "campaign"}
ROW = {"message_id": "m-1", "context": CONTEXT, "recipient": "+33612345678", "status": "DELIVERED", "terminal": True,
       "history": [{"receipt_id": "r1", "status": "SENT", "terminal": False, "reason": None, "stage": "receipt", "channel": "SMS",
                    "occurred_at": SENT_AT}]}
OLD = {**ROW, "message_id": "m-old", "context": {**CONTEXT, "message_id": "m-old"},
       "history": [{**ROW["history"][0], "occurred_at": NOW - timedelta(days=9)}]}
LINK = {"token": "abcDEF123456", "url": "https://shop.test/spring", "context": CONTEXT, "recipient": "+33612345678",
        "channel": "SMS", "template_id": "promo_spring", "created_at": SENT_AT - timedelta(seconds=1)}


class Written:
    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self.fail = False

    def __call__(self, outputs: list[Output]) -> list[str | None]:
        if self.fail:
            return ["broker gone"] * len(outputs)
        self.outputs.extend(outputs)
        return [None] * len(outputs)


@pytest.fixture
def written() -> Written:
    return Written()


@pytest.fixture
def client(written: Written) -> TestClient:
    settings = Settings()
    reader = StatusReader(settings, messages={"m-1": ROW, "m-old": OLD}, campaigns={}, partitions=3)
    desk = ConversionDesk(settings, reader.message, timedelta(days=7), links={LINK["token"]: LINK}, recorded={}, publish=written,
                          clock=lambda: NOW)
    keys = {k.key_id: k.record for k in (SHOP, SENDER)}
    app = create_app(settings, guard=KeyGuard(settings, keys=keys), status=reader, conversions=desk)
    assert ("POST", "/v1/conversions") not in undeclared(app)
    return TestClient(app)


def post(client: TestClient, body: dict, key=SHOP):
    return client.post("/v1/conversions", json=body, headers={"Authorization": f"Bearer {key.key}"})


def test_a_link_token_attributes_to_message_campaign_variant_and_button(client: TestClient, written: Written) -> None:
    answer = post(client, {"conversion_id": "order-1", "link_token": LINK["token"], "event": "purchase", "value": "49.90",
                           "currency": "EUR", "occurred_at": (NOW - timedelta(hours=1)).isoformat()})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert {k: body[k] for k in ("message_id", "campaign_id", "variant", "button", "value", "currency", "replayed")} == {
        "message_id": "m-1", "campaign_id": "spring", "variant": "B", "button": "link:abcDEF123456", "value": "49.9",
        "currency": "EUR", "replayed": False}
    assert [(o.topic, o.key) for o in written.outputs] == [("conversions", "m-1"), ("conversion-ids", "order-1")]
    assert written.outputs[0].value["value_micros"] == 49_900_000 and written.outputs[0].value["recipient"] == "+33612345678"


def test_a_message_id_attributes_without_a_button(client: TestClient) -> None:
    answer = post(client, {"conversion_id": "signup-9", "message_id": "m-1", "event": "signup"})
    assert answer.status_code == 201
    assert (answer.json()["button"], answer.json()["variant"], answer.json()["occurred_at"]) == (None, "B", "2030-01-10T12:00:00Z")


def test_a_message_id_attributes_to_the_last_button_clicked_before(client: TestClient) -> None:
    def tapped(button: str, hours: int) -> dict:
        return {**ROW["history"][0], "status": "CLICKED", "reason": button, "occurred_at": SENT_AT + timedelta(hours=hours)}

    ROW["history"] = [*ROW["history"], tapped("button:1", 1), tapped("link:abcDEF123456", 2), tapped("button:0", 30)]
    try:
        answer = post(client, {"conversion_id": "o-9", "message_id": "m-1", "event": "purchase",
                               "occurred_at": (SENT_AT + timedelta(hours=3)).isoformat()})
    finally:
        ROW["history"] = ROW["history"][:1]
    assert answer.status_code == 201 and answer.json()["button"] == "link:abcDEF123456"  # the tap after it came too late


def test_a_replayed_conversion_is_answered_with_the_first_result_and_not_counted_again(client: TestClient, written: Written) -> None:
    first = post(client, {"conversion_id": "order-2", "link_token": LINK["token"], "event": "purchase"})
    again = post(client, {"conversion_id": "order-2", "link_token": LINK["token"], "event": "purchase"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert {**again.json(), "replayed": False} == first.json() and again.json()["replayed"] is True
    assert len(written.outputs) == 2  # one conversions record, one conversion-ids record: the replay wrote nothing


@pytest.mark.parametrize(("body", "code"), [
    ({"message_id": "m-404"}, "unknown_message"),
    ({"link_token": "zzzZZZ999999"}, "unknown_link_token"),
])
def test_an_unknown_message_or_token_is_404_with_a_reason(client: TestClient, written: Written, body: dict, code: str) -> None:
    answer = post(client, {"conversion_id": "c-1", "event": "purchase", **body})
    assert answer.status_code == 404
    [error] = answer.json()["errors"]
    assert error["code"] == code and (body.get("message_id") or body.get("link_token")) in error["message"]
    assert written.outputs == []


@pytest.mark.parametrize(("message_id", "occurred", "code"), [
    ("m-old", NOW - timedelta(hours=1), "outside_window"),  # 9 days after the message left, the window is 7
    ("m-old", NOW - timedelta(days=2) + timedelta(minutes=1), "outside_window"),  # just past the window's end
    ("m-1", SENT_AT - timedelta(hours=1), "before_message"),
    ("m-1", NOW + timedelta(hours=1), "occurred_in_future"),
])
def test_a_conversion_out_of_the_window_is_422(client: TestClient, written: Written, message_id: str, occurred: datetime, code: str) -> None:
    answer = post(client, {"conversion_id": "late-1", "message_id": message_id, "event": "purchase", "occurred_at": occurred.isoformat()})
    assert answer.status_code == 422 and answer.json()["errors"][0]["code"] == code
    assert written.outputs == []
    inside = post(client, {"conversion_id": "late-2", "message_id": "m-old", "event": "purchase",
                           "occurred_at": (NOW - timedelta(days=2, minutes=1)).isoformat()})
    assert inside.status_code == 201  # the window's last minutes still count


@pytest.mark.parametrize("body", [
    {"conversion_id": "x", "event": "purchase"},  # neither message nor token
    {"conversion_id": "x", "message_id": "m-1", "event": "purchase", "value": "10"},  # value without currency
    {"conversion_id": "x", "message_id": "m-1", "event": "purchase", "occurred_at": "2030-01-10T10:00:00"},  # no offset
    {"conversion_id": "x", "message_id": "m-1", "event": "<script>"},
    {"conversion_id": "x", "link_token": "abcDEF123456", "message_id": "m-2", "event": "purchase"},  # the link is m-1's
])
def test_a_body_breaking_a_rule_is_422_and_writes_nothing(client: TestClient, written: Written, body: dict) -> None:
    assert post(client, body).status_code == 422
    assert written.outputs == []


def test_kafka_not_taking_it_is_503_and_the_same_id_can_be_sent_again(client: TestClient, written: Written) -> None:
    written.fail = True
    assert post(client, {"conversion_id": "o-3", "message_id": "m-1", "event": "purchase"}).status_code == 503
    written.fail = False
    assert post(client, {"conversion_id": "o-3", "message_id": "m-1", "event": "purchase"}).status_code == 201


def test_a_key_without_the_scope_is_403_and_no_key_401(client: TestClient) -> None:
    body = {"conversion_id": "o-4", "message_id": "m-1", "event": "purchase"}
    assert post(client, body, key=SENDER).status_code == 403
    assert client.post("/v1/conversions", json=body).status_code == 401
