"""Idempotency keys at the consent stage: a second message with a used key is a DUPLICATE naming the first, never a second send."""
from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any, Callable

from common.config import Settings
from courrier.client import CourrierClient
from processors.consent.stage import ConsentStage
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.stage import RecordMeta
from processors.runtime.table import TopicTable
from tests.processors.consent.conftest import REQUESTED_AT, consent_stage
from tests.processors.consent.test_consent_broker import collect


def meta(at=REQUESTED_AT) -> RecordMeta:
    return RecordMeta("send-requested", 0, 0, "+33612345678", at)


def keyed(request_event: Callable[..., dict[str, Any]], message_id: str, key: str | None = "order-1") -> dict[str, Any]:
    event = request_event()
    event["context"] = {**event["context"], "message_id": message_id, "idempotency_key": key}
    return event


def test_the_first_message_claims_its_id_and_its_key_and_goes_on(request_event) -> None:
    outputs = ConsentStage({}).process(keyed(request_event, "m-1"), meta())
    assert [(o.topic, o.key) for o in outputs] == [("idempotency", "courrier:message-id:m-1"), ("idempotency", "order-1"),
                                                   ("consent-checked", "+33612345678")]
    assert outputs[1].value["message_id"] == "m-1"


def test_a_second_message_with_the_same_key_is_a_terminal_duplicate(request_event, assert_valid) -> None:
    stage = consent_stage({})
    stage.process(keyed(request_event, "m-1"), meta())
    [receipt] = stage.process(keyed(request_event, "m-2"), meta())
    assert_valid(receipt)
    value = receipt.value
    assert (value["status"], value["terminal"], value["reason"]) == ("DUPLICATE", True, "duplicate_idempotency_key")
    assert value["context"]["message_id"] == "m-2" and "m-1" in value["detail"]


def test_the_same_message_again_is_not_a_duplicate(request_event) -> None:
    """A deferred or re-keyed request comes back through consent with its own id: it must pass, and claim nothing twice."""
    stage = consent_stage({})
    stage.process(keyed(request_event, "m-1"), meta())
    assert [o.topic for o in stage.process(keyed(request_event, "m-1"), meta())] == ["consent-checked"]


def test_the_key_is_free_again_after_its_window(request_event) -> None:
    stage = consent_stage({}, idempotency_window=timedelta(hours=1))
    stage.process(keyed(request_event, "m-1"), meta())
    later = stage.process(keyed(request_event, "m-2"), meta(REQUESTED_AT + timedelta(hours=1, seconds=1)))
    assert [o.topic for o in later] == ["idempotency", "consent-checked"]


def test_a_key_in_the_table_from_another_instance_counts(request_event) -> None:
    table = {"order-1": {"idempotency_key": "order-1", "message_id": "m-0", "first_seen_at": REQUESTED_AT,
                         "expires_at": REQUESTED_AT + timedelta(days=1)}}
    [receipt] = consent_stage({}, keys=table).process(keyed(request_event, "m-2"), meta())
    assert receipt.value["status"] == "DUPLICATE" and "m-0" in receipt.value["detail"]


def test_no_key_no_claim(request_event) -> None:
    assert [o.topic for o in consent_stage({}).process(keyed(request_event, "m-1", key=None), meta())] == ["consent-checked"]


def test_two_concurrent_producers_with_the_same_keys_send_each_key_once(topic_settings: Settings) -> None:
    keys = TopicTable(topic_settings, "idempotency")
    keys.start()
    runner = Runner(ConsentStage({}, keys=keys), topic_settings, RunnerOptions(batch_size=50, metrics_port=0))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    sent: dict[str, list[str]] = {}
    lock = threading.Lock()

    def produce(name: str) -> None:
        client = CourrierClient(topic_settings, source=name)
        for i in range(40):
            message_id = client.send(f"+3361234{i:04d}", "otp", {"code": "123456"}, idempotency_key=f"order-{i}")
            with lock:
                sent.setdefault(f"order-{i}", []).append(message_id)
        client.flush()

    try:
        producers = [threading.Thread(target=produce, args=(f"app-{n}",)) for n in range(2)]
        for producer in producers:
            producer.start()
        for producer in producers:
            producer.join(60)
        checked = collect(topic_settings, "consent-checked", lambda values: len(values) >= 40, timeout_s=60)
        time.sleep(1)  # anything extra would arrive now
        receipts = collect(topic_settings, "receipt", lambda values: len(values) >= 40, timeout_s=30)
    finally:
        runner.stop()
        thread.join(30)
        keys.stop()
    passed = [c["context"]["message_id"] for c in checked]
    duplicates = [r["context"]["message_id"] for r in receipts if r["status"] == "DUPLICATE"]
    assert len(passed) == 40 and len(duplicates) == 40
    for key, ids in sent.items():
        assert len(ids) == 2 and len(set(ids) & set(passed)) == 1 and len(set(ids) & set(duplicates)) == 1, key


def test_a_key_reused_by_another_api_key_is_not_a_duplicate(request_event) -> None:
    """Keys are scoped per API key, in the form the intake stores them; without an API key a key is kept as given."""
    stage = ConsentStage({})

    def by(api_key_id: str | None, message_id: str) -> dict[str, Any]:
        event = keyed(request_event, message_id)
        event["context"] = {**event["context"], "api_key_id": api_key_id}
        return event

    first = stage.process(by("keyA", "m-1"), meta())
    assert [o.key for o in first if o.topic == "idempotency"] == ["courrier:message-id:m-1", "courrier:key:keyA:order-1"]
    assert [o.topic for o in stage.process(by("keyB", "m-2"), meta())][-1] == "consent-checked"
    assert stage.process(by("keyA", "m-3"), meta())[-1].value["status"] == "DUPLICATE"
    assert [o.key for o in stage.process(by(None, "m-4"), meta()) if o.topic == "idempotency"][-1] == "order-1"
