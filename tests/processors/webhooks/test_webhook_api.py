"""The receiver over HTTP (FastAPI test client, a publisher that records): every answer, the counters, the logs."""
from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from webhook_helpers import SECRET, RecordingPublisher, body_of, signed, sim_event

from common.config import Settings
from common.logs import JsonFormatter
from processors.access.scopes import undeclared
from processors.webhooks.api import WebhookSecretMissing, create_app
from processors.web.webhook_settings import WebhookSettings

URL = "/webhooks/sim"
SETTINGS = Settings(webhook_secret=SECRET)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def client(publisher: RecordingPublisher) -> Iterator[TestClient]:
    app = create_app(SETTINGS, WebhookSettings(max_body_bytes=4096, replay_capacity=1000), publisher)
    with TestClient(app) as running:
        yield running
    assert publisher.closed


def post(client: TestClient, event: dict, **sign_options) -> tuple[int, dict]:
    body = body_of(event)
    answer = client.post(URL, content=body, headers=signed(body, **sign_options))
    return answer.status_code, answer.json()


def rejected(client: TestClient) -> dict[tuple[str, str], float]:
    """courrier_webhook_rejected_total by (provider, reason), read from /metrics."""
    found = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("courrier_webhook_rejected_total{"):
            labels, value = line[len("courrier_webhook_rejected_total{"):].split("} ")
            parts = dict(p.split("=") for p in labels.split(","))
            found[(parts["provider"].strip('"'), parts["reason"].strip('"'))] = float(value)
    return found


def test_a_signed_delivery_report_is_published_then_answered(client: TestClient, publisher: RecordingPublisher) -> None:
    event = sim_event()
    assert post(client, event) == (200, {"status": "accepted", "event_id": event["event_id"]})
    [output] = publisher.published
    assert (output.topic, output.key, output.value["message_id"], output.value["raw_status"]) == ("provider-events", "agg-1", "m-1", "DELIVERED")
    assert publisher.started == ("provider-events", "inbound")
    assert 'courrier_webhook_accepted_total{provider="sim",topic="provider-events"} 1.0' in client.get("/metrics").text


def test_an_inbound_message_goes_to_inbound(client: TestClient, publisher: RecordingPublisher) -> None:
    assert post(client, sim_event("inbound"))[0] == 200
    assert [(o.topic, o.key, o.value["text"]) for o in publisher.published] == [("inbound", "+33612345678", "STOP")]


@pytest.mark.parametrize(("headers", "status", "reason"), [
    ({}, 401, "unsigned"),
    ({"X-Courrier-Timestamp": str(int(time.time())), "X-Courrier-Signature": "v1=" + "ab" * 32}, 403, "bad_signature"),
])
def test_unsigned_is_401_and_badly_signed_is_403(client: TestClient, publisher: RecordingPublisher, headers: dict, status: int,
                                                  reason: str) -> None:
    answer = client.post(URL, content=body_of(sim_event()), headers=headers)
    assert answer.status_code == status and answer.json()["errors"][0]["code"] == reason
    assert publisher.published == [] and rejected(client) == {("sim", reason): 1.0}


def test_a_wrong_secret_is_403_and_a_stale_timestamp_401(client: TestClient, publisher: RecordingPublisher) -> None:
    status, body = post(client, sim_event(), secret="guessed")
    assert (status, body["errors"][0]["code"]) == (403, "bad_signature")
    status, body = post(client, sim_event(), timestamp=int(time.time()) - 301)
    assert (status, body["errors"][0]["code"]) == (401, "stale_timestamp")
    assert publisher.published == []
    assert rejected(client) == {("sim", "bad_signature"): 1.0, ("sim", "stale_timestamp"): 1.0}


def test_a_replayed_request_is_answered_but_not_published_again(client: TestClient, publisher: RecordingPublisher) -> None:
    event = sim_event()
    body = body_of(event)
    headers = signed(body)
    assert client.post(URL, content=body, headers=headers).status_code == 200
    again = client.post(URL, content=body, headers=headers)
    assert (again.status_code, again.json()) == (200, {"status": "duplicate", "event_id": event["event_id"]})
    resigned = client.post(URL, content=body, headers=signed(body, timestamp=int(time.time()) + 1))
    assert resigned.json()["status"] == "duplicate", "a provider retry signs again: the event id still gives it away"
    assert len(publisher.published) == 1 and rejected(client) == {("sim", "replayed"): 2.0}


def test_the_same_event_while_it_is_being_published_waits(client: TestClient, publisher: RecordingPublisher) -> None:
    event = sim_event()
    client.app.state.service.replays.claim(f"sim:{event['event_id']}", time.time())
    status, body = post(client, event)
    assert (status, body["errors"][0]["code"]) == (409, "in_progress") and publisher.published == []


def test_when_kafka_does_not_acknowledge_the_answer_is_503_and_a_retry_goes_through(client: TestClient, publisher: RecordingPublisher) -> None:
    event = sim_event()
    publisher.failing = True
    status, body = post(client, event)
    assert (status, body["errors"][0]["code"]) == (503, "publish_failed")
    publisher.failing = False
    assert post(client, event)[0] == 200 and len(publisher.published) == 1


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversized_body_is_413_before_it_is_read_whole(client: TestClient, publisher: RecordingPublisher, chunked: bool) -> None:
    body = body_of(sim_event("inbound", text="x" * 5000))
    content = iter([body[:2000], body[2000:4000], body[4000:]]) if chunked else body
    answer = client.post(URL, content=content, headers=signed(body))
    assert answer.status_code == 413 and answer.json()["errors"][0]["code"] == "too_large"
    assert publisher.published == [] and rejected(client) == {("sim", "too_large"): 1.0}


@pytest.mark.parametrize(("body", "reason"), [
    (b"{\"event_id\": ", "malformed_json"),
    (body_of({**sim_event(), "extra": 1}), "unknown_field"),
    (body_of(sim_event(status=None)), "invalid_event"),
])
def test_a_body_out_of_contract_is_400_with_a_reason(client: TestClient, publisher: RecordingPublisher, body: bytes, reason: str) -> None:
    answer = client.post(URL, content=body, headers=signed(body))
    assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == reason
    assert answer.json()["errors"][0]["message"]
    assert publisher.published == [] and rejected(client) == {("sim", reason): 1.0}


def test_an_unknown_provider_is_404_and_does_not_grow_the_labels(client: TestClient) -> None:
    for name in ("twilio", "x" * 50):
        body = body_of(sim_event())
        answer = client.post(f"/webhooks/{name}", content=body, headers=signed(body))
        assert answer.status_code == 404 and answer.json()["errors"][0]["code"] == "unknown_provider"
    assert rejected(client) == {("unknown", "unknown_provider"): 2.0}


def test_health_names_the_providers(client: TestClient) -> None:
    post(client, sim_event())
    assert client.get("/healthz").json() == {"status": "ok", "providers": ["sim"], "replay_keys": 1, "replay_evicted": 0}


def test_refusals_are_logged_without_secret_signature_or_unmasked_numbers(client: TestClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("processors.webhooks.service")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)  # whatever level an earlier test (or logs.configure) left on the hierarchy
    try:
        body = body_of({**sim_event(), "+33612345678": "x"})
        headers = signed(body)
        client.post(URL, content=body, headers=headers)
        client.post(URL, content=body_of(sim_event()), headers={**headers, "X-Courrier-Signature": headers["X-Courrier-Signature"]})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["reason"] for line in lines] == ["unknown_field", "bad_signature"]
    text = stream.getvalue()
    assert SECRET not in text and headers["X-Courrier-Signature"][3:] not in text
    assert "+33612345678" not in text and "+3361****78" in text


def test_no_secret_no_receiver(tmp_path) -> None:
    # A state directory of its own: the machine's may hold the secret `infra up` generated for the local simulator.
    with pytest.raises(WebhookSecretMissing, match="COURRIER_WEBHOOK_SECRET"):
        create_app(Settings(webhook_secret="", state_dir=tmp_path), publisher=RecordingPublisher())


def test_every_route_declares_its_scope(client: TestClient) -> None:
    assert undeclared(client.app) == []


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"event_id": "e", "data": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "too_deep"),
    (b'{"event_id": "\xff\xfe"}', "invalid_encoding"),
])
def test_a_signed_body_too_deep_or_not_utf8_is_400_not_500(client: TestClient, publisher: RecordingPublisher, body: bytes,
                                                           reason: str) -> None:
    big = create_app(SETTINGS, WebhookSettings(replay_capacity=10), publisher)  # the fixture's 4 KiB cap would answer 413
    with TestClient(big) as roomy:
        answer = roomy.post(URL, content=body, headers=signed(body))
    assert answer.status_code == 400 and answer.json() == {"errors": [{"code": reason, "message": answer.json()["errors"][0]["message"]}]}
    assert publisher.published == []


def test_a_deep_body_without_a_signature_is_401(client: TestClient) -> None:
    answer = client.post(URL, content=b"[" * 2000 + b"]" * 2000)
    assert answer.status_code == 401 and answer.json()["errors"][0]["code"] == "unsigned"


def test_starlette_refusals_have_the_error_shape(client: TestClient) -> None:
    answer = client.get(URL)
    assert answer.status_code == 405 and answer.json()["errors"][0]["code"] == "method_not_allowed"
    answer = client.get("/nothing/here")
    assert answer.status_code == 404 and answer.json()["errors"][0]["code"] == "not_found"
