"""The receipt stage through the broker: HTTP reports attributed through message-state, also by a new instance that
rebuilt it from the topic, a report that overtook its dispatched event retried until it can be attributed, one that
no message ever claims kept on unmatched-reports, and the terminal state winning over late and repeated reports."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from common.config import Settings
from common.kafka_clients import consumer_config, producer_config
from processors.receipt.stage import REPORT_WAIT, ReceiptStage
from processors.runtime.policy import RetryPolicy
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event
from processors.runtime.table import TopicTable
from processors.scheduler.scheduler import Scheduler

E164 = "+46701234567"


def dispatched(message_id: str) -> Event:
    now = datetime.now(timezone.utc)
    return {
        "context": {"message_id": message_id, "lane": "TRANSACTIONAL", "requested_at": now, "source": "test"},
        "recipient": {"e164": E164, "region": "SE", "number_type": "mobile", "time_zone": None}, "channel": "RCS",
        "fallback_reason": None, "sender": {"sender_id": "agent", "type": "ALPHANUMERIC", "country": "SE", "segments_per_second": 10.0},
        "provider": "http:sim", "provider_message_ids": [message_id], "segments": 1, "submitted_at": now,
    }


def report(message_id: str, status: str, kind: str = "DELIVERY_REPORT") -> Event:
    return {"provider": "http:sim", "provider_message_id": message_id, "kind": kind, "raw_status": status, "error_code": None,
            "raw": "{}", "occurred_at": datetime.now(timezone.utc), "dispatched": None, "message_id": message_id}


def produce(settings: Settings, records: list[tuple[str, str, Event]]) -> None:
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    for logical, key, value in records:
        producer.produce(settings.topic(logical), key=key, value=serde.encode(logical, value))
    assert producer.flush(30) == 0


def read_until(settings: Settings, logical: str, done: Callable[[list[Event]], bool], timeout_s: float = 60.0) -> list[Event]:
    serde = AvroSerde(settings.registry_url, settings.topic)
    physical = settings.topic(logical)
    consumer = Consumer(consumer_config(settings, f"receipt-reader-{uuid.uuid4()}"))
    partitions = consumer.list_topics(physical, timeout=10).topics[physical].partitions
    consumer.assign([TopicPartition(physical, p, OFFSET_BEGINNING) for p in partitions])
    found: list[Event] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not done(found):
            found.extend(serde.decode(logical, m.value()) for m in consumer.consume(500, 0.2) if m.error() is None)
    finally:
        consumer.close()
    return found


def statuses(settings: Settings, message_id: str, at_least: int) -> list[str]:
    mine = lambda rs: [r["status"] for r in rs if r["context"]["message_id"] == message_id]  # noqa: E731
    return mine(read_until(settings, "receipt", lambda rs: len(mine(rs)) >= at_least))


@contextmanager
def receipt_stage(settings: Settings, with_scheduler: bool = False) -> Iterator[TopicTable]:
    """One receipt-stage instance (its table loaded from message-state first) in a thread; yields its table."""
    table = TopicTable(settings, "message-state")
    table.start()
    options = RunnerOptions(batch_size=50, metrics_port=0, retry=RetryPolicy(max_attempts=5, base_delay_s=0.3, max_delay_s=1.0))
    loops: list[Any] = [Runner(ReceiptStage(table), settings, options)]
    if with_scheduler:
        loops.append(Scheduler(settings, metrics_port=0))
    threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    try:
        yield table
    finally:
        for loop in loops:
            loop.stop()
        for thread in threads:
            thread.join(30)
        table.stop()


def test_a_new_instance_attributes_reports_from_the_state_the_last_one_wrote(topic_settings: Settings) -> None:
    settings = topic_settings
    produce(settings, [("dispatched", E164, dispatched("m-a"))])
    with receipt_stage(settings):
        assert statuses(settings, "m-a", 1) == ["SENT"]
        produce(settings, [("provider-events", "m-a", report("m-a", "DELIVERED"))])
        assert statuses(settings, "m-a", 2) == ["SENT", "DELIVERED"]

    with receipt_stage(settings) as table:
        assert table.get("m-a") is not None and table["m-a"]["terminal"], "the state was rebuilt from the topic at start"
        produce(settings, [("provider-events", "m-a", report("m-a", "SENT")), ("provider-events", "m-a", report("m-a", "UNDELIVERED")),
                           ("provider-events", "m-a", report("m-a", "DELIVERED")),
                           ("provider-events", "m-a", report("m-a", "READ", kind="READ_REPORT"))])
        assert statuses(settings, "m-a", 3) == ["SENT", "DELIVERED", "READ"]
        deadline = time.monotonic() + 30
        while not (table.get("m-a") or {}).get("engaged") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert table["m-a"]["engaged"] == ["READ"] and table["m-a"]["status"] == "DELIVERED"
    assert statuses(settings, "m-a", 3) == ["SENT", "DELIVERED", "READ"], "the late, contrary and repeated reports wrote nothing"


def test_a_report_naming_only_its_provider_id_is_attributed_by_an_instance_that_never_saw_the_submission(
        topic_settings: Settings) -> None:
    """An SMPP receipt that reached a dispatcher which had not submitted the message (after a crash) names only the SMSC's id."""
    settings = topic_settings
    sms = {**dispatched("m-b"), "channel": "SMS", "provider": "smpp:local", "provider_message_ids": ["4711"]}
    produce(settings, [("dispatched", E164, sms)])
    with receipt_stage(settings):
        assert statuses(settings, "m-b", 1) == ["SENT"]
    with receipt_stage(settings):
        bare = {**report("m-b", "DELIVRD"), "provider": "smpp:local", "provider_message_id": "4711", "message_id": None,
                "raw": "id:4711 sub:001 dlvrd:001 submit date:2603020903 done date:2603020903 stat:DELIVRD err:000"}
        produce(settings, [("provider-events", "4711", bare)])
        assert statuses(settings, "m-b", 2) == ["SENT", "DELIVERED"]


def test_a_report_that_overtakes_its_dispatched_event_waits_for_it(topic_settings: Settings) -> None:
    settings = topic_settings
    with receipt_stage(settings, with_scheduler=True):
        produce(settings, [("provider-events", "m-b", report("m-b", "DELIVERED"))])
        time.sleep(0.5)  # the report is read first and sent to retry; the dispatched event comes after it
        produce(settings, [("dispatched", E164, dispatched("m-b"))])
        assert statuses(settings, "m-b", 2) == ["SENT", "DELIVERED"]


def test_a_report_no_message_ever_claims_is_kept_on_unmatched_reports_after_its_retries(topic_settings: Settings) -> None:
    """Retried as a report that overtook its dispatched event would be, then kept for inspection: not dead-lettered."""
    settings = topic_settings
    # Occurred longer ago than a report may wait for its message: kept once its retries are spent.
    stray = {**report("m-never", "DELIVERED"), "message_id": None, "provider_message_id": "nobody-knows",
             "occurred_at": datetime.now(timezone.utc) - REPORT_WAIT}
    with receipt_stage(settings, with_scheduler=True):
        produce(settings, [("provider-events", "nobody-knows", stray)])
        [kept] = read_until(settings, "unmatched-reports", lambda found: len(found) >= 1)
    assert (kept["provider"], kept["provider_message_id"], kept["raw_status"]) == ("http:sim", "nobody-knows", "DELIVERED")
    assert read_until(settings, "dead-letter", lambda found: False, timeout_s=3.0) == []
