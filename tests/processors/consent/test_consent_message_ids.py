"""Message ids at the consent stage: a blank id and an id naming another message end in a terminal REJECTED receipt; the same
request seen again passes. Pure (dict tables) except the last test, which runs the stage against the topics."""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

import pytest
from confluent_kafka import Producer

from common.config import Settings
from common.kafka_clients import producer_config
from courrier.client import CourrierClient
from processors.consent.message_ids import claim_key, fingerprint
from processors.consent.stage import ConsentStage
from processors.receipts import receipt_id
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, RecordMeta
from processors.runtime.table import TopicTable
from tests.processors.consent.conftest import REQUESTED_AT
from tests.processors.consent.test_consent_broker import collect

Build = Callable[..., dict[str, Any]]


def meta(at=REQUESTED_AT, key: str = "+33612345678") -> RecordMeta:
    return RecordMeta("send-requested", 0, 0, key, at)


def with_id(request_event: Build, message_id: str, **overrides: Any) -> dict[str, Any]:
    event = request_event(**overrides)
    event["context"] = {**event["context"], "message_id": message_id}
    return event


@pytest.mark.parametrize("blank", ["", " ", "\t\n"])
def test_a_blank_message_id_is_rejected_and_claims_nothing(request_event: Build, assert_valid, blank: str) -> None:
    [rejected] = ConsentStage({}).process(with_id(request_event, blank), meta())
    assert_valid(rejected)
    value = rejected.value
    assert (value["status"], value["terminal"], value["reason"]) == ("REJECTED", True, "invalid_message_id")
    assert value["context"]["message_id"] == blank and rejected.key == "+33612345678"
    assert "same blank id" in value["detail"]


def test_eleven_requests_with_an_empty_id_get_eleven_receipts(request_event: Build) -> None:
    stage = ConsentStage({})
    outcomes = [stage.process(with_id(request_event, "", recipient=f"+336123456{i:02d}"), meta()) for i in range(11)]
    assert [[(o.value["status"], o.value["reason"]) for o in out] for out in outcomes] == [[("REJECTED", "invalid_message_id")]] * 11


def test_the_first_request_claims_its_id_with_its_content(request_event: Build, assert_valid) -> None:
    event = with_id(request_event, "m-1")
    claim, checked = ConsentStage({}).process(event, meta())
    assert_valid(claim)
    assert (claim.topic, claim.key) == ("idempotency", "courrier:message-id:m-1")
    assert claim.value["idempotency_key"] == claim.key and claim.value["message_id"] == fingerprint(event)
    assert claim.value["expires_at"] - claim.value["first_seen_at"] == timedelta(hours=24)
    assert checked.topic == "consent-checked"


@pytest.mark.parametrize("change", [{"recipient": "+33612345699"}, {"variables": {"code": "999999"}}, {"template_id": "welcome"},
                                    {"channel_policy": "RCS_WITH_SMS_FALLBACK"}])
def test_the_same_id_on_other_content_is_a_terminal_duplicate_message_id(request_event: Build, assert_valid,
                                                                         change: dict[str, Any]) -> None:
    stage = ConsentStage({})
    stage.process(with_id(request_event, "m-1"), meta())
    [rejected] = stage.process(with_id(request_event, "m-1", **change), meta())
    assert_valid(rejected)
    value = rejected.value
    assert (value["status"], value["terminal"], value["reason"]) == ("REJECTED", True, "duplicate_message_id")
    assert value["context"]["message_id"] == "m-1"
    assert "already names another message" in value["detail"] and "Both messages' receipts carry this id" in value["detail"]
    assert REQUESTED_AT.isoformat() in value["detail"]


def test_eleven_requests_sharing_an_id_send_one_and_reject_ten(request_event: Build) -> None:
    """The reported case, with an id that is not blank: nothing vanishes, every request gets its own terminal answer."""
    stage = ConsentStage({})
    outcomes = [stage.process(with_id(request_event, "shared", recipient=f"+336123456{i:02d}"), meta()) for i in range(11)]
    assert [o.topic for o in outcomes[0]] == ["idempotency", "consent-checked"]
    assert all([(o.value["status"], o.value["reason"]) for o in out] == [("REJECTED", "duplicate_message_id")] for out in outcomes[1:])


def test_refusals_sharing_an_id_keep_receipt_ids_of_their_own(request_event: Build) -> None:
    """A consumer deduplicating by receipt_id must not fold different requests together, and must fold the same one."""
    stage = ConsentStage({})
    stage.process(with_id(request_event, "m-1"), meta())
    refusals = [stage.process(with_id(request_event, message_id, recipient=r), meta())[0]
                for message_id in ("m-1", "") for r in ("+33612345698", "+33612345699", "+33612345699")]
    assert [o.value["reason"] for o in refusals] == ["duplicate_message_id"] * 3 + ["invalid_message_id"] * 3
    ids = [o.value["receipt_id"] for o in refusals]
    assert ids[1] == ids[2] and ids[4] == ids[5]  # the same request again: the same receipt
    assert len({ids[0], ids[1], ids[3], ids[4]}) == 4
    # Had the first message been rejected later on (a bad number, a STOP), its receipt would be another one still.
    assert receipt_id("m-1", "REJECTED", None, None) not in ids


def test_the_same_request_again_passes_without_a_second_claim(request_event: Build) -> None:
    """A re-delivery (re-read after a crash, a producer's retry) has the same content: it is the same message, never refused."""
    stage = ConsentStage({})
    stage.process(with_id(request_event, "m-1"), meta())
    again = with_id(request_event, "m-1")
    again["context"] = {**again["context"], "requested_at": REQUESTED_AT + timedelta(seconds=5)}  # a retry may restamp it
    assert [o.topic for o in stage.process(again, meta(REQUESTED_AT + timedelta(seconds=5)))] == ["consent-checked"]


def test_a_claim_another_instance_wrote_counts_both_ways(request_event: Build) -> None:
    """After a restart or a rebalance the claim comes from the table: the same content passes, other content is refused."""
    first = with_id(request_event, "m-1")
    [claim, _checked] = ConsentStage({}).process(first, meta())
    table = {claim.key: claim.value}
    assert [o.topic for o in ConsentStage({}, keys=table).process(first, meta())] == ["consent-checked"]
    [rejected] = ConsentStage({}, keys=table).process(with_id(request_event, "m-1", recipient="+33612345699"), meta())
    assert rejected.value["reason"] == "duplicate_message_id"


def test_a_deferred_request_comes_back_as_itself(request_event: Build) -> None:
    stage = ConsentStage({})
    outputs = stage.process(with_id(request_event, "m-1", send_at=REQUESTED_AT + timedelta(hours=1)), meta())
    assert [o.topic for o in outputs] == ["idempotency", "receipt", "send-requested"]
    later = outputs[2]
    assert [o.topic for o in stage.process(later.value, meta(later.deliver_at, later.key))] == ["consent-checked"]


def test_a_refused_request_still_claims_its_id(request_event: Build) -> None:
    """Its id has a terminal receipt: another message under it must not pass as if the id were free."""
    stage = ConsentStage({})
    outputs = stage.process(with_id(request_event, "m-1", recipient="+3312"), meta(key="+3312"))
    assert [(o.topic, o.value.get("reason")) for o in outputs] == [("idempotency", None), ("receipt", "invalid_number")]
    [rejected] = stage.process(with_id(request_event, "m-1"), meta())
    assert rejected.value["reason"] == "duplicate_message_id"


def test_the_id_is_free_again_after_the_window(request_event: Build) -> None:
    stage = ConsentStage({}, idempotency_window=timedelta(hours=1))
    stage.process(with_id(request_event, "m-1"), meta())
    later = stage.process(with_id(request_event, "m-1", recipient="+33612345699"), meta(REQUESTED_AT + timedelta(hours=1, seconds=1)))
    assert [o.topic for o in later] == ["idempotency", "consent-checked"]


def test_the_id_is_checked_before_the_idempotency_key(request_event: Build) -> None:
    """Same id and same key on other content: the key would pass it as the first message itself; the id check refuses it."""
    first, event = with_id(request_event, "m-1"), with_id(request_event, "m-1", recipient="+33612345699")
    first["context"]["idempotency_key"] = event["context"]["idempotency_key"] = "order-1"
    stage = ConsentStage({})
    stage.process(first, meta())
    [rejected] = stage.process(event, meta())
    assert rejected.value["reason"] == "duplicate_message_id"


def test_an_idempotency_key_in_the_reserved_namespace_is_rejected(request_event: Build, assert_valid) -> None:
    """Otherwise a caller could claim a message id in advance (campaign ids are predictable) and have it refused."""
    event = with_id(request_event, "m-1")
    event["context"]["idempotency_key"] = claim_key("m-2")
    claim, rejected = ConsentStage({}).process(event, meta())
    assert_valid(rejected)
    assert claim.key == claim_key("m-1")
    assert (rejected.value["status"], rejected.value["reason"]) == ("REJECTED", "invalid_idempotency_key")


def test_the_fingerprint_is_the_content_not_its_order_nor_its_stamps(request_event: Build) -> None:
    event = request_event(variables={"a": "1", "b": "2"})
    reordered = request_event(variables={"b": "2", "a": "1"}, lane="MARKETING", subscription_group="g")
    reordered["context"]["requested_at"] = REQUESTED_AT + timedelta(days=1)
    assert fingerprint(event) == fingerprint(reordered) and fingerprint(event).startswith("content:")
    assert fingerprint(event) != fingerprint(request_event(variables={"a": "1", "b": "3"}))
    assert fingerprint(event) != fingerprint(request_event(variables={"a": "1", "b": "2"}, locale="fr-FR"))


def publish_raw(settings: Settings, events: list[dict[str, Any]]) -> None:
    """``send-requested`` records as any Kafka producer may write them (``CourrierClient`` refuses a blank id)."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    for event in events:
        producer.produce(settings.topic("send-requested"), key=event["recipient"], value=serde.encode("send-requested", event))
    assert producer.flush(30) == 0


def run_consent(settings: Settings, keys: Mapping[str, Event]) -> tuple[Runner, threading.Thread]:
    runner = Runner(ConsentStage({}, keys=keys), settings, RunnerOptions(batch_size=50, metrics_port=0))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    return runner, thread


def stop_consent(running: tuple[Runner, threading.Thread]) -> None:
    runner, thread = running
    runner.stop()
    thread.join(30)


def test_through_the_broker_one_id_is_one_message_even_after_a_restart(topic_settings: Settings, request_event: Build) -> None:
    shared = f"shared-{uuid.uuid4()}"
    now = datetime.now(timezone.utc)
    recipients = [f"+336123456{i:02d}" for i in range(11)]
    blanks = [with_id(request_event, "", recipient=r) for r in recipients[:3]]
    for event in blanks:
        event["context"]["requested_at"] = now
    keys = TopicTable(topic_settings, "idempotency")
    keys.start()
    running = run_consent(topic_settings, keys)
    try:
        client = CourrierClient(topic_settings, source="app")
        for recipient in recipients:
            client.send(recipient, "otp", {"code": "123456"}, message_id=shared)
        assert client.flush() == 0
        publish_raw(topic_settings, blanks)
        [checked] = collect(topic_settings, "consent-checked", lambda values: len(values) >= 1, timeout_s=60)
        receipts = collect(topic_settings, "receipt", lambda values: len(values) >= 13, timeout_s=60)
    finally:
        stop_consent(running)
        keys.stop()
    assert checked["context"]["message_id"] == shared
    reasons = Counter((r["context"]["message_id"], r["status"], r["reason"]) for r in receipts)
    assert reasons == {(shared, "REJECTED", "duplicate_message_id"): 10, ("", "REJECTED", "invalid_message_id"): 3}
    assert {r["recipient"] for r in receipts if r["reason"] == "duplicate_message_id"} | {checked["recipient"]["e164"]} == set(recipients)

    # A new instance knows the claim from the topic alone: the same request again passes (a re-delivery), other content does not.
    # (Its table is the topic read here, not a TopicTable: one does not load a topic written in transactions yet.)
    claims = collect(topic_settings, "idempotency", lambda values: len(values) >= 2, timeout_s=10)
    assert [c["idempotency_key"] for c in claims] == [claim_key(shared)]
    winner = checked["recipient"]["e164"]
    loser = next(r for r in recipients[3:] if r != winner)  # not one of the blank-id requests, to count its receipts alone
    running = run_consent(topic_settings, {c["idempotency_key"]: c for c in claims})
    try:
        client = CourrierClient(topic_settings, source="app")
        client.send(winner, "otp", {"code": "123456"}, message_id=shared)
        client.send(loser, "otp", {"code": "123456"}, message_id=shared)
        assert client.flush() == 0
        receipts = collect(topic_settings, "receipt", lambda values: len(values) >= 14, timeout_s=60)
        checked_again = collect(topic_settings, "consent-checked", lambda values: len(values) >= 3, timeout_s=3)  # 3rd: a failure
    finally:
        stop_consent(running)
    assert [c["recipient"]["e164"] for c in checked_again] == [winner, winner]
    assert len(receipts) == 14
    assert [r["reason"] for r in receipts if r["recipient"] == loser] == ["duplicate_message_id"] * 2
