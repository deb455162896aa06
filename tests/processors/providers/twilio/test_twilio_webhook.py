"""Twilio's webhooks through the real receiver app (FastAPI test client, a publisher that records), posted and signed
by the fake Twilio: signature accepted / wrong / missing / tampered / replayed, status callbacks and inbound messages
as records that encode with the topics' real Avro schemas."""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from urllib.parse import urlencode

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from fastapi.testclient import TestClient

from common.config import Settings
from processors.providers.twilio.fake import FakeTwilio
from processors.providers.twilio.settings import TwilioConfigError, TwilioSettings
from processors.providers.twilio.webhook import TwilioVerifier, parse, sign, webhook_provider
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Output
from processors.webhooks.api import create_app
from processors.web.webhook_contract import Rejected

PUBLIC_URL = "https://hooks.example/webhooks/twilio"
SID = "SM" + "ab" * 16


class Recording:
    """A publisher that keeps what it is asked to publish."""

    def __init__(self) -> None:
        self.published: list[Output] = []

    def start(self, logical_topics: Sequence[str]) -> None: ...

    def publish(self, outputs: Sequence[Output]) -> list[str | None]:
        self.published.extend(outputs)
        return [None] * len(outputs)

    def close(self) -> None: ...


@pytest.fixture
def fake() -> FakeTwilio:
    """Not served: only its journal and its signed posts are used here."""
    fake = FakeTwilio()
    fake.journal.append({"sid": SID, "to": "+14155550100", "from": "+15005550006", "status_callback": PUBLIC_URL})
    return fake


@pytest.fixture
def publisher() -> Recording:
    return Recording()


@pytest.fixture
def client(fake: FakeTwilio, publisher: Recording, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("COURRIER_TWILIO_ACCOUNT_SID", fake.account_sid)
    monkeypatch.setenv("COURRIER_TWILIO_AUTH_TOKEN", fake.auth_token)
    monkeypatch.setenv("COURRIER_TWILIO_WEBHOOK_URL", PUBLIC_URL)
    monkeypatch.setenv("COURRIER_INBOUND_MEDIA_ENABLED", "false")  # its media URLs are not fetched (loopback only)
    with TestClient(create_app(Settings(webhook_secret="test-webhook-secret"), publisher=publisher)) as running:
        yield running


def test_the_signature_is_twilios_documented_one() -> None:
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234", "From": "+14158675309", "To": "+18005551212"}
    assert sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_a_signed_status_callback_becomes_a_provider_event(client: TestClient, fake: FakeTwilio, publisher: Recording) -> None:
    answer = fake.post_status(SID, "undelivered", "30003", client=client)
    assert (answer.status_code, answer.json()["status"]) == (200, "accepted")
    (output,) = publisher.published
    assert (output.topic, output.key) == ("provider-events", SID)
    value = output.value
    assert isinstance(value, dict)
    assert {k: value[k] for k in ("provider", "provider_message_id", "kind", "raw_status", "error_code", "message_id", "dispatched")} == {
        "provider": "twilio", "provider_message_id": SID, "kind": "DELIVERY_REPORT", "raw_status": "undelivered",
        "error_code": "30003", "message_id": None, "dispatched": None}
    assert "MessageStatus=undelivered" in value["raw"]


def test_a_replayed_callback_is_not_published_twice_but_the_next_status_is(client: TestClient, fake: FakeTwilio,
                                                                         publisher: Recording) -> None:
    assert fake.post_status(SID, "sent", client=client).json()["status"] == "accepted"
    assert fake.post_status(SID, "sent", client=client).json()["status"] == "duplicate"
    assert fake.post_status(SID, "delivered", client=client).json()["status"] == "accepted"
    assert [o.value["raw_status"] for o in publisher.published] == ["sent", "delivered"]  # type: ignore[index]


def test_a_read_callback_is_a_read_report(client: TestClient, fake: FakeTwilio, publisher: Recording) -> None:
    assert fake.post_status(SID, "read", client=client).status_code == 200
    assert publisher.published[0].value["kind"] == "READ_REPORT"  # type: ignore[index]


def test_an_inbound_message_becomes_an_inbound_record(client: TestClient, fake: FakeTwilio, publisher: Recording) -> None:
    answer = fake.post_inbound(PUBLIC_URL, "+14155550100", "+15005550006", "STOP", media=("https://api.twilio.com/m/1",), client=client)
    assert answer.status_code == 200
    (output,) = publisher.published
    assert (output.topic, output.key) == ("inbound", "+14155550100")
    value = output.value
    assert isinstance(value, dict)
    assert (value["from_e164"], value["to_sender_id"], value["text"], value["media_urls"], value["provider"]) == (
        "+14155550100", "+15005550006", "STOP", ["https://api.twilio.com/m/1"], "twilio")
    assert value["provider_message_id"].startswith("MM")


def _callback(status: str = "delivered") -> list[tuple[str, str]]:
    return [("MessageSid", SID), ("MessageStatus", status), ("To", "+14155550100")]


@pytest.mark.parametrize("case", ["wrong_token", "wrong_url", "missing", "tampered", "garbage"])
def test_a_request_not_signed_by_the_account_is_refused_403(client: TestClient, publisher: Recording, case: str) -> None:
    params = _callback()
    token, url = ("another-token", PUBLIC_URL) if case == "wrong_token" else ("fake-auth-token", PUBLIC_URL)
    if case == "wrong_url":
        url = "https://attacker.example/webhooks/twilio"
    headers = {"x-twilio-signature": sign(token, url, params), "content-type": "application/x-www-form-urlencoded"}
    body = urlencode(params)
    if case == "missing":
        del headers["x-twilio-signature"]
    if case == "tampered":
        body = urlencode(_callback("failed"))
    if case == "garbage":
        headers["x-twilio-signature"] = "not base64 at all"
    answer = client.post("/webhooks/twilio", content=body, headers=headers)
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["code"] == ("unsigned" if case == "missing" else "bad_signature")
    assert publisher.published == []


@pytest.mark.parametrize(("body", "reason"), [
    (b"MessageSid=nope&MessageStatus=sent", "invalid_event"),
    (f"MessageSid={SID}&From=%2B14155550100".encode(), "invalid_event"),  # neither a status nor a whole inbound message
    (b"\xff\xfe", "malformed_form"),
])
def test_unreadable_bodies_are_400(body: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as refused:
        parse(body)
    assert (refused.value.status, refused.value.reason) == (400, reason)


def test_an_incomplete_account_names_the_missing_setting() -> None:
    with pytest.raises(TwilioConfigError, match="COURRIER_TWILIO_ACCOUNT_SID"):
        webhook_provider(TwilioSettings(account_sid=""))
    with pytest.raises(TwilioConfigError, match="COURRIER_TWILIO_WEBHOOK_URL"):
        webhook_provider(TwilioSettings(account_sid="AC" + "1" * 32, auth_token="t", webhook_url="", status_callback_url=""))


def test_parsed_records_encode_with_the_real_avro_schemas() -> None:
    serde = AvroSerde("mock://", lambda name: f"test-{name}", SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4()}"}))
    status = urlencode(_callback("failed") + [("ErrorCode", "30007")]).encode()
    inbound = urlencode([("MessageSid", SID), ("From", "+14155550100"), ("To", "+15005550006"), ("Body", "HELP"),
                         ("SmsStatus", "received"), ("MediaUrl0", "https://api.twilio.com/m/2")]).encode()
    for body in (status, inbound):
        (output,) = parse(body).outputs
        assert isinstance(output.value, dict)
        decoded = serde.decode(output.topic, serde.encode(output.topic, output.value))
        # stored_media_urls is filled by the receiver after parsing (processors.webhooks.inbound_media): its default here
        assert {k: v for k, v in decoded.items() if k not in ("occurred_at", "received_at", "stored_media_urls")} == {
            k: v for k, v in output.value.items() if k not in ("occurred_at", "received_at")}


def test_event_ids_are_sid_and_status_for_callbacks_and_sid_for_inbound() -> None:
    assert parse(urlencode(_callback("Delivered")).encode()).event_id == f"{SID}:delivered"
    inbound = urlencode([("MessageSid", SID), ("From", "+14155550100"), ("To", "+15005550006"), ("Body", "")]).encode()
    assert parse(inbound).event_id == SID


def test_a_signature_that_is_not_ascii_is_refused_not_crashed() -> None:
    with pytest.raises(Rejected) as refused:
        TwilioVerifier("fake-auth-token", (PUBLIC_URL,)).verify({"x-twilio-signature": "é" * 28}, urlencode(_callback()).encode(), 0.0)
    assert (refused.value.status, refused.value.reason) == (403, "bad_signature")
