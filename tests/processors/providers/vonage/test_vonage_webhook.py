"""Vonage's webhooks through the receiver (``WebhookService`` with its replay memory and a publisher that records),
signed by the fake Vonage: the JWT accepted / missing / wrong / tampered / stale / replayed, status and inbound bodies
as records that encode with the topics' real Avro schemas, and bodies the parser refuses."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import jwt
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from hypothesis import given
from hypothesis import strategies as st

from processors.providers.vonage.fake import FakeVonage
from processors.providers.vonage.settings import VonageConfigError, VonageSettings
from processors.providers.vonage.signature import VonageVerifier, payload_hash, sign
from processors.providers.vonage.webhook import parse, webhook_provider
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Output
from processors.web.webhook_contract import Rejected
from processors.webhooks.replay import ReplayGuard
from processors.webhooks.service import WebhookMetrics, WebhookService

NAME = "vonage-eu"
UUID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
SECRET = "fake-signature-secret-of-32-bytes!"
TOLERANCE_S = 300.0


class Recording:
    """A publisher that keeps what it is asked to publish."""

    def __init__(self) -> None:
        self.published: list[Output] = []

    def publish(self, outputs: Sequence[Output]) -> list[str | None]:
        self.published.extend(outputs)
        return [None] * len(outputs)


@pytest.fixture
def fake() -> FakeVonage:
    """Not served: only its journal and its signed bodies are used here."""
    fake = FakeVonage(signature_secret=SECRET)
    fake.journal.append({"message_uuid": UUID, "to": "14155550100", "from": "15005550006", "client_ref": "m-1"})
    return fake


@pytest.fixture
def publisher() -> Recording:
    return Recording()


@pytest.fixture
def receiver(publisher: Recording) -> WebhookService:
    hook = webhook_provider(VonageSettings(signature_secret=SECRET), NAME, TOLERANCE_S)
    return WebhookService({NAME: hook}, publisher.publish, ReplayGuard(2 * TOLERANCE_S, 1000), WebhookMetrics(), 64 * 1024)


def post(receiver: WebhookService, fake: FakeVonage, body: bytes) -> tuple[int, dict]:
    answer = receiver.handle(NAME, fake.signed_headers(body), body)
    return answer.status, answer.body


def test_a_signed_status_becomes_a_provider_event_naming_our_message(receiver: WebhookService, fake: FakeVonage,
                                                                      publisher: Recording) -> None:
    body = fake.status_body(UUID, "rejected", 1240, timestamp="2026-03-02T09:00:03.010Z")
    assert post(receiver, fake, body) == (200, {"status": "accepted", "event_id": f"{UUID}:rejected"})
    (output,) = publisher.published
    assert (output.topic, output.key) == ("provider-events", UUID)
    value = output.value
    assert isinstance(value, dict)
    assert {k: value[k] for k in ("provider", "provider_message_id", "kind", "raw_status", "error_code", "message_id", "dispatched")} == {
        "provider": NAME, "provider_message_id": UUID, "kind": "DELIVERY_REPORT", "raw_status": "rejected",
        "error_code": "1240", "message_id": "m-1", "dispatched": None}
    assert value["occurred_at"] == datetime(2026, 3, 2, 9, 0, 3, 10_000, tzinfo=timezone.utc) and value["raw"] == body.decode()


def test_a_replayed_status_is_not_published_twice_but_the_next_status_is(receiver: WebhookService, fake: FakeVonage,
                                                                        publisher: Recording) -> None:
    submitted = fake.status_body(UUID, "submitted")
    assert post(receiver, fake, submitted)[1]["status"] == "accepted"
    assert post(receiver, fake, submitted)[1]["status"] == "duplicate"
    # Vonage retrying the same status with a new timestamp and a new token is the same event.
    assert post(receiver, fake, fake.status_body(UUID, "submitted", timestamp="2030-01-01T00:00:00.000Z"))[1]["status"] == "duplicate"
    assert post(receiver, fake, fake.status_body(UUID, "delivered"))[1]["status"] == "accepted"
    assert [o.value["raw_status"] for o in publisher.published] == ["submitted", "delivered"]  # type: ignore[index]


def test_a_read_status_is_a_read_report_and_a_status_without_client_ref_names_no_message(fake: FakeVonage) -> None:
    fake.journal[0]["client_ref"] = None
    (output,) = parse(fake.status_body(UUID, "Read")).outputs
    assert isinstance(output.value, dict)
    assert (output.value["kind"], output.value["raw_status"], output.value["message_id"]) == ("READ_REPORT", "read", None)


def test_an_inbound_sms_becomes_an_inbound_record_keyed_by_the_sender(receiver: WebhookService, fake: FakeVonage,
                                                                        publisher: Recording) -> None:
    body = fake.inbound_body("14155550100", "15005550006", "STOP")
    status, answer = post(receiver, fake, body)
    assert status == 200 and answer["event_id"] == json.loads(body)["message_uuid"]
    (output,) = publisher.published
    assert (output.topic, output.key) == ("inbound", "+14155550100")
    assert isinstance(output.value, dict)
    assert {k: output.value[k] for k in ("from_e164", "to_sender_id", "text", "media_urls", "provider", "provider_message_id")} == {
        "from_e164": "+14155550100", "to_sender_id": "+15005550006", "text": "STOP", "media_urls": [], "provider": NAME,
        "provider_message_id": answer["event_id"]}
    (to_short_code,) = parse(fake.inbound_body("14155550100", "12345", "HELP")).outputs
    assert to_short_code.value["to_sender_id"] == "12345"  # type: ignore[index]


def _token(claims: dict, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


@pytest.mark.parametrize(("case", "status", "reason"), [
    ("missing", 401, "unsigned"), ("basic", 401, "unsigned"), ("empty_bearer", 401, "unsigned"),
    ("wrong_secret", 403, "bad_signature"), ("tampered", 403, "bad_signature"), ("garbage", 403, "bad_signature"),
    ("alg_none", 403, "bad_signature"), ("hs512", 403, "bad_signature"), ("no_payload_hash", 403, "bad_signature"),
    ("not_ascii", 403, "bad_signature"), ("no_iat", 401, "bad_timestamp"), ("stale", 401, "stale_timestamp"),
    ("ahead", 401, "stale_timestamp"),
])
def test_a_request_not_signed_for_this_body_now_is_refused(receiver: WebhookService, fake: FakeVonage, publisher: Recording,
                                                           case: str, status: int, reason: str) -> None:
    body = fake.status_body(UUID, "delivered")
    now = int(time.time())
    claims = {"iat": now, "jti": str(uuid.uuid4()), "iss": "Vonage", "payload_hash": payload_hash(body), "api_key": fake.api_key}
    tokens = {
        "wrong_secret": _token(claims, "another-secret-of-at-least-32-bytes"),
        "tampered": sign(SECRET, fake.status_body(UUID, "rejected"), now),
        "garbage": "not.a.jwt",
        "alg_none": _token(claims, "", "none"),
        "hs512": _token(claims, SECRET + SECRET, "HS512"),
        "no_payload_hash": _token({k: v for k, v in claims.items() if k != "payload_hash"}),
        "not_ascii": "é" * 40,
        "no_iat": _token({k: v for k, v in claims.items() if k != "iat"}),
        "stale": sign(SECRET, body, now - 301),
        "ahead": sign(SECRET, body, now + 301),
    }
    headers = {"basic": {"authorization": "Basic ZmFrZTpmYWtl"}, "empty_bearer": {"authorization": "Bearer  "}, "missing": {}}.get(
        case, {"authorization": f"Bearer {tokens.get(case, '')}"})
    answer = receiver.handle(NAME, headers, body)
    assert (answer.status, answer.body["errors"][0]["code"]) == (status, reason)
    assert publisher.published == []


def test_the_sdks_documented_token_verifies_with_its_secret_and_is_refused_only_for_lacking_a_payload_hash() -> None:
    # Vonage's Python SDK test vector (vonage_jwt tests/test_verify_jwt.py): HS256 with this secret.
    token = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2MzQ2ODAsImV4cCI6"
             "MzMyNTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQHZTC29y6CGM")
    with pytest.raises(Rejected, match="payload_hash"):
        VonageVerifier("qwertyuiopasdfghjklzxcvbnm123456", TOLERANCE_S).verify({"authorization": f"Bearer {token}"}, b"{}", 1697634680)
    with pytest.raises(Rejected, match="not a JWT signed"):
        VonageVerifier("another-secret-of-at-least-32-bytes", TOLERANCE_S).verify({"authorization": f"Bearer {token}"}, b"{}", 1697634680)


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=299))
def test_any_body_signed_now_verifies_and_any_other_body_is_refused(body: bytes, flip: int) -> None:
    verifier = VonageVerifier(SECRET, TOLERANCE_S)
    headers = {"authorization": f"Bearer {sign(SECRET, body, 1_800_000_000)}"}
    assert verifier.verify(headers, body, 1_800_000_100.0)
    other = bytes(b ^ 1 if i == flip else b for i, b in enumerate(body)) if flip < len(body) else body + b" "
    with pytest.raises(Rejected) as refused:
        verifier.verify(headers, other, 1_800_000_100.0)
    assert (refused.value.status, refused.value.reason) == (403, "bad_signature")


@given(st.one_of(st.binary(max_size=200), st.dictionaries(st.sampled_from(
    ["message_uuid", "to", "from", "timestamp", "status", "channel", "client_ref", "error", "message_type", "text"]),
    st.one_of(st.none(), st.text(max_size=20), st.integers(), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)),
    max_size=10).map(lambda d: json.dumps(d).encode())))
def test_the_parser_answers_any_body_with_records_or_a_400(body: bytes) -> None:
    try:
        parsed = parse(body, NAME)
    except Rejected as refused:
        assert refused.status == 400 and refused.reason in ("malformed_json", "invalid_event")
    else:
        assert len(parsed.outputs) == 1 and parsed.event_id


@pytest.mark.parametrize("body", [
    b"not json", b"\xff\xfe", b"[1, 2]",
    json.dumps({"message_uuid": UUID, "to": "1", "from": "2", "status": "delivered", "channel": "sms"}).encode(),  # no timestamp
    json.dumps({"message_uuid": UUID, "to": "1", "from": "2", "timestamp": "2026-03-02T09:00:00", "status": "delivered",
                "channel": "sms"}).encode(),  # no zone
    json.dumps({"message_uuid": UUID, "to": "15005550006", "from": "14155550100", "timestamp": "2026-03-02T09:00:00Z",
                "channel": "mms", "message_type": "image", "image": {"url": "https://x"}}).encode(),
    json.dumps({"message_uuid": UUID, "to": "15005550006", "from": "ACME", "timestamp": "2026-03-02T09:00:00Z",
                "channel": "sms", "message_type": "text", "text": "hi"}).encode(),  # a sender that is not a number
])
def test_unreadable_bodies_are_400(body: bytes) -> None:
    with pytest.raises(Rejected) as refused:
        parse(body)
    assert refused.value.status == 400 and refused.value.reason in ("malformed_json", "invalid_event")


def test_fields_vonage_adds_are_ignored(fake: FakeVonage) -> None:
    event = {**json.loads(fake.status_body(UUID, "delivered")), "destination": {"network_code": "23410"}, "workflow": {"id": "w"}}
    assert parse(json.dumps(event).encode()).event_id == f"{UUID}:delivered"


def test_parsed_records_encode_with_the_real_avro_schemas(fake: FakeVonage) -> None:
    serde = AvroSerde("mock://", lambda name: f"test-{name}", SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4()}"}))
    for body in (fake.status_body(UUID, "rejected", 1250), fake.inbound_body("14155550100", "15005550006", "HELP")):
        (output,) = parse(body, NAME).outputs
        assert isinstance(output.value, dict)
        decoded = serde.decode(output.topic, serde.encode(output.topic, output.value))
        defaulted = {k: decoded[k] for k in set(decoded) - set(output.value)}  # fields the parser leaves to the schema
        assert all(v in (None, []) for v in defaulted.values())
        assert decoded == {**output.value, **defaulted, **{k: decoded[k] for k in ("occurred_at", "received_at") if k in decoded}}
        assert all(decoded[k] == output.value[k] for k in ("occurred_at", "received_at") if k in decoded)


def test_a_receiver_without_the_signature_secret_names_the_setting() -> None:
    with pytest.raises(VonageConfigError, match="^COURRIER_VONAGE_SIGNATURE_SECRET"):
        webhook_provider(VonageSettings(signature_secret=""), NAME)
