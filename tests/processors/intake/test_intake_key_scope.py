"""Idempotency keys are scoped per API key (issue 20): another API key reusing a key sends its own message (no broker)."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi.testclient import TestClient
from seeded import bundled_index
from test_intake_batch_failures import OTP, FakePublisher

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import new_key
from processors.intake.api import create_app

NOW = datetime(2030, 1, 2, tzinfo=timezone.utc)
FIRST, SECOND = new_key("shop-a", ("messages:send",), NOW), new_key("shop-b", ("messages:send",), NOW)


def clients() -> tuple[TestClient, FakePublisher]:
    settings = Settings()
    app = create_app(settings, guard=KeyGuard(settings, keys={k.key_id: k.record for k in (FIRST, SECOND)}))
    publisher = FakePublisher()
    app.state.service._publisher = publisher
    app.state.service.templates = bundled_index()  # the store as seeded (its table needs a broker)
    return TestClient(app), publisher


def send(client: TestClient, key, recipient: str, idempotency_key: str = "order-1"):
    return client.post("/v1/messages", json={**OTP, "recipient": recipient}, headers={
        "Authorization": f"Bearer {key.key}", "Idempotency-Key": idempotency_key})


def test_a_second_api_key_reusing_a_key_gets_its_own_message_sent() -> None:
    client, publisher = clients()
    first = send(client, FIRST, "+33612345601")
    second = send(client, SECOND, "+33612345602")
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["message_id"] != second.json()["message_id"]
    assert publisher.sent_ids() == {first.json()["message_id"], second.json()["message_id"]}
    again = send(client, FIRST, "+33612345601")  # within one API key the key still replays
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (200, first.json(), "true")


def test_the_stored_keys_name_the_api_key_and_compact_apart() -> None:
    client, publisher = clients()
    send(client, FIRST, "+33612345601")
    send(client, SECOND, "+33612345602")
    records = [o for o in publisher.published if o.topic == "idempotency"]
    assert sorted(o.key for o in records) == sorted(f"courrier:key:{k.key_id}:order-1" for k in (FIRST, SECOND))
    assert all(o.value["idempotency_key"] == o.key for o in records)
    contexts = [o.value["context"] for o in publisher.published if o.topic == "send-requested"]
    assert {(c["idempotency_key"], c["api_key_id"]) for c in contexts} == {("order-1", FIRST.key_id), ("order-1", SECOND.key_id)}
