"""RBM's webhook through the receiver (its service, and the FastAPI app for the handshake's plain-text answer), posted
and signed as the fake RBM posts them: the verification handshake, X-Goog-Signature missing / wrong / tampered, every
event kind as records that encode with the topics' real Avro schemas, event ids for replays."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from fastapi.testclient import TestClient

from common.config import Settings
import processors.webhooks.api as webhook_api
from processors.providers.rbm.adapter import rbm_message_id
from processors.providers.rbm.content import postback
from processors.providers.rbm.fake import server_event, suggestion_tap, user_event, user_text
from processors.providers.rbm.signature import envelope, event_bytes, sign, signed_request
from processors.providers.rbm.webhook import RbmParser, RbmVerifier, webhook_provider
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Output
from processors.web.webhook_contract import Rejected
from processors.webhooks.replay import ReplayGuard
from processors.webhooks.service import WebhookMetrics, WebhookService
from tests.processors.providers.rbm.conftest import AGENT, CLIENT_TOKEN

PHONE = "+33612345678"
NAME = "rbm-fr"  # the configured provider's name: reports carry it, as dispatch's adapter does
OURS = rbm_message_id("m-1")


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
def publisher() -> Recording:
    return Recording()


@pytest.fixture
def service(publisher: Recording) -> WebhookService:
    return WebhookService({NAME: webhook_provider(NAME, CLIENT_TOKEN, AGENT)}, publisher.publish, ReplayGuard(600, 1000),
                          WebhookMetrics(), 1_000_000)


def post(service: WebhookService, event: dict, token: str = CLIENT_TOKEN, pubsub_id: str = "1234") -> tuple[int, dict]:
    headers, body = signed_request(event, pubsub_id, datetime.now(timezone.utc), token)
    answer = service.handle(NAME, headers, body)
    return answer.status, answer.body


def test_the_signature_is_base64_hmac_sha512_of_the_decoded_data_keyed_by_the_client_token() -> None:
    event = {"eventType": "DELIVERED", "messageId": OURS}
    body = json.loads(envelope(event, "7", datetime(2026, 3, 2, tzinfo=timezone.utc)))
    assert base64.b64decode(body["message"]["data"]) == event_bytes(event)
    assert body["message"]["publishTime"] == "2026-03-02T00:00:00.000000Z" and body["message"]["messageId"] == "7"
    expected = base64.b64encode(hmac.new(b"tok", event_bytes(event), hashlib.sha512).digest()).decode()
    assert sign(event_bytes(event), "tok") == expected and len(base64.b64decode(expected)) == 64


def test_the_verification_handshake_is_answered_with_the_secret_as_plain_text(publisher: Recording, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_api, "providers", lambda _settings, _webhook: {NAME: webhook_provider(NAME, CLIENT_TOKEN, AGENT)})
    with TestClient(webhook_api.create_app(Settings(webhook_secret="test-webhook-secret"), publisher=publisher)) as client:
        for _ in range(2):  # RBM may verify again: the replay memory does not swallow the second
            answer = client.post(f"/webhooks/{NAME}", json={"clientToken": CLIENT_TOKEN, "secret": "1234567890"})
            assert (answer.status_code, answer.text, answer.headers["content-type"].split(";")[0]) == (200, "1234567890", "text/plain")
        wrong = client.post(f"/webhooks/{NAME}", json={"clientToken": "another", "secret": "1234567890"})
        assert wrong.status_code == 403 and "1234567890" not in wrong.text
    assert publisher.published == []


@pytest.mark.parametrize(("case", "status", "reason"), [("missing", 401, "unsigned"), ("wrong_token", 403, "bad_signature"),
                                                       ("tampered", 403, "bad_signature"), ("garbage", 403, "bad_signature")])
def test_signatures_missing_are_401_and_wrong_are_403(service: WebhookService, publisher: Recording, case: str, status: int,
                                                      reason: str) -> None:
    event = user_event("DELIVERED", PHONE, OURS)
    headers, body = signed_request(event, "1", datetime.now(timezone.utc), "another-token" if case == "wrong_token" else CLIENT_TOKEN)
    if case == "missing":
        del headers["x-goog-signature"]
    if case == "tampered":
        body = envelope({**event, "eventType": "READ"}, "1", datetime.now(timezone.utc))
    if case == "garbage":
        headers["x-goog-signature"] = "ünïcode is not base64"
    answer = service.handle(NAME, headers, body)
    assert (answer.status, answer.body["errors"][0]["code"]) == (status, reason) and publisher.published == []


def test_delivered_and_read_are_provider_events_about_our_message_id(service: WebhookService, publisher: Recording) -> None:
    assert post(service, user_event("DELIVERED", PHONE, OURS))[0] == 200
    assert post(service, user_event("READ", PHONE, OURS))[0] == 200
    delivered, read = publisher.published
    assert (delivered.topic, delivered.key) == ("provider-events", OURS)
    assert {k: delivered.value[k] for k in ("provider", "provider_message_id", "kind", "raw_status", "message_id")} == {
        "provider": NAME, "provider_message_id": OURS, "kind": "DELIVERY_REPORT", "raw_status": "DELIVERED", "message_id": None}
    assert (read.value["kind"], read.value["raw_status"]) == ("READ_REPORT", "READ")


def test_server_events_are_reports_and_is_typing_writes_nothing(service: WebhookService, publisher: Recording) -> None:
    assert post(service, server_event("TTL_EXPIRATION_REVOKED", PHONE, OURS))[0] == 200
    assert post(service, user_event("IS_TYPING", PHONE))[0] == 200
    (revoked,) = publisher.published
    assert (revoked.value["raw_status"], revoked.value["provider_message_id"]) == ("TTL_EXPIRATION_REVOKED", OURS)


def test_a_typed_text_is_an_inbound_message_to_the_agent(service: WebhookService, publisher: Recording) -> None:
    assert post(service, user_text(PHONE, "STOP"))[0] == 200
    (inbound,) = publisher.published
    assert (inbound.topic, inbound.key) == ("inbound", PHONE)
    assert {k: inbound.value[k] for k in ("from_e164", "to_sender_id", "text", "media_urls", "provider")} == {
        "from_e164": PHONE, "to_sender_id": AGENT, "text": "STOP", "media_urls": [], "provider": NAME}


def test_a_tapped_suggestion_is_a_click_on_its_message_and_a_reply_is_also_inbound(service: WebhookService, publisher: Recording) -> None:
    data = postback(OURS)(2, "Yes")
    assert post(service, suggestion_tap(PHONE, data, "Track", kind="ACTION"))[0] == 200
    (click,) = publisher.published
    assert (click.topic, click.key, click.value["raw_status"], click.value["provider_message_id"]) == ("provider-events", OURS, "CLICKED", OURS)
    assert json.loads(click.value["raw"])["suggestionResponse"]["postbackData"] == data  # which button
    publisher.published.clear()
    assert post(service, suggestion_tap(PHONE, data, "STOP", kind="REPLY"))[0] == 200
    assert [(o.topic, o.value.get("raw_status") or o.value["text"]) for o in publisher.published] == [("provider-events", "CLICKED"),
                                                                                                       ("inbound", "STOP")]
    publisher.published.clear()
    assert post(service, suggestion_tap(PHONE, "not ours", "Hi", kind="ACTION"))[0] == 200 and publisher.published == []


def test_the_same_event_twice_has_one_event_id_and_is_published_once(service: WebhookService, publisher: Recording) -> None:
    event = user_event("DELIVERED", PHONE, OURS)
    first, again = post(service, event, pubsub_id="1"), post(service, event, pubsub_id="2")  # a Pub/Sub redelivery
    assert first[1]["event_id"] == again[1]["event_id"] == event["eventId"] and again[1]["status"] == "duplicate"
    assert len(publisher.published) == 1


def test_event_ids_are_the_event_id_the_user_message_id_else_the_pubsub_id() -> None:
    parse = RbmParser(NAME, AGENT).parse
    text = user_text(PHONE, "hi")
    assert parse(envelope(text, "99", datetime.now(timezone.utc))).event_id == text["messageId"]
    bare = {"eventType": "IS_TYPING", "senderPhoneNumber": PHONE}
    assert parse(envelope(bare, "99", datetime.now(timezone.utc))).event_id == "99"


@pytest.mark.parametrize(("body", "reason"), [(b"not json", "malformed_json"), (b"[1]", "malformed_json"),
                                              (b'{"message": {}}', "invalid_event"),
                                              (b'{"message": {"data": "%%%"}}', "invalid_event")])
def test_unreadable_bodies_are_400(body: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as refused:
        RbmParser(NAME, AGENT).parse(body)
    assert (refused.value.status, refused.value.reason) == (400, reason)
    with pytest.raises(Rejected):
        RbmVerifier(CLIENT_TOKEN).verify({"x-goog-signature": "x"}, body, 0.0)


def test_a_user_message_needs_a_phone_number() -> None:
    with pytest.raises(Rejected) as refused:
        RbmParser(NAME, AGENT).parse(envelope({"messageId": "u1", "text": "hi", "senderPhoneNumber": "me"}, "1", datetime.now(timezone.utc)))
    assert refused.value.reason == "invalid_event"


def test_records_encode_with_the_real_avro_schemas() -> None:
    serde = AvroSerde("mock://", lambda name: f"test-{name}", SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4()}"}))
    parse = RbmParser(NAME, AGENT).parse
    events = [user_event("DELIVERED", PHONE, OURS), user_event("READ", PHONE, OURS), user_text(PHONE, "HELP"),
              suggestion_tap(PHONE, postback(OURS)(0, "Yes"), "Yes"), server_event("TTL_EXPIRATION_REVOKE_FAILED", PHONE, OURS),
              {**user_text(PHONE, "x"), "text": None, "userFile": {"payload": {"fileUri": "https://rbm.example/f/1", "mimeType": "image/jpeg"}}}]
    outputs = [o for e in events for o in parse(envelope({k: v for k, v in e.items() if v is not None}, "1", datetime.now(timezone.utc))).outputs]
    assert len(outputs) == 7 and outputs[-1].value["media_urls"] == ["https://rbm.example/f/1"]
    for output in outputs:
        assert isinstance(output.value, dict)
        decoded = serde.decode(output.topic, serde.encode(output.topic, output.value))
        times = ("occurred_at", "received_at")
        assert {k: v for k, v in decoded.items() if k in output.value and k not in times} == \
            {k: v for k, v in output.value.items() if k not in times}
        assert all(decoded[k] in (None, []) for k in set(decoded) - set(output.value))  # fields the parser leaves to defaults
