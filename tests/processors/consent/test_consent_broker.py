"""Consent through the broker with the scheduler, on an injected clock (the tests move time instead of waiting hours).

A marketing message at night is deferred to ``scheduled`` and released at the opening; deferred
messages survive a scheduler restart (each released at least once, none lost); frequency caps
live in the ``frequency`` topic, so a new consent instance still knows them.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from common.config import Settings
from common.kafka_clients import consumer_config
from courrier.client import CourrierClient
from processors.consent.logic import consent_key
from processors.consent.stage import ConsentStage
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event
from processors.runtime.table import TopicTable
from processors.runtime.testing import wait_for_row
from processors.scheduler.scheduler import Scheduler
from tests.lanes import assign_from_beginning

GROUP = "promotions"
MONDAY_2AM = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)   # 03:00 in Paris, 21:00 (Sunday) in New York
PARIS_OPENING = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
NEW_YORK_OPENING = datetime(2026, 11, 23, 13, 0, tzinfo=timezone.utc)


class Clock:
    """One settable clock for the consent runner (datetime) and the scheduler (epoch ms)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def ms(self) -> int:
        return int(self.at.timestamp() * 1000)


class Pipeline:
    """The consent stage (with its consent and frequency tables) and schedulers, each in a thread, on one clock."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings, self.clock = settings, clock
        self._running: list[tuple[object, threading.Thread, list[TopicTable]]] = []
        self.consents: TopicTable | None = None

    def start_consent(self) -> Runner:
        consents, sends = TopicTable(self.settings, "consent"), TopicTable(self.settings, "frequency")
        consents.start()
        sends.start()
        self.consents = consents
        runner = Runner(ConsentStage(consents, sends), self.settings, RunnerOptions(batch_size=50, metrics_port=0), clock=self.clock.now)
        self._start(runner, [consents, sends])
        return runner

    def start_scheduler(self) -> Scheduler:
        scheduler = Scheduler(self.settings, metrics_port=0, clock_ms=self.clock.ms)
        self._start(scheduler, [])
        return scheduler

    def _start(self, worker: Runner | Scheduler, tables: list[TopicTable]) -> None:
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        self._running.append((worker, thread, tables))

    def stop(self, worker: object) -> None:
        for entry in [e for e in self._running if e[0] is worker or worker is None]:
            entry[0].stop()
            entry[1].join(30)
            for table in entry[2]:
                table.stop()
            self._running.remove(entry)


@pytest.fixture
def pipeline(topic_settings: Settings) -> Iterator[Pipeline]:
    for logical in ("consent", "frequency", "send-requested", "scheduled"):
        end_offsets(topic_settings, logical)  # a topic created a moment ago may answer "not leader" for a while
    running = Pipeline(topic_settings, Clock(MONDAY_2AM))
    yield running
    running.stop(None)


def opt_in(settings: Settings, table: TopicTable, *numbers: str) -> CourrierClient:
    client = CourrierClient(settings, source="test")
    for number in numbers:
        client.record_consent(number, GROUP, True, source="form")
    client.flush()
    for number in numbers:
        assert wait_for_row(table, consent_key(number, GROUP), timeout_s=30) is not None
    return client


def reader(settings: Settings, logical: str) -> Consumer:
    """A consumer assigned every partition of ``logical`` and of its transactional lane's topic (a hop of the chain)
    from the beginning (no group to join: it reads at once)."""
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4()}"))
    assign_from_beginning(consumer, settings, logical)
    return consumer


def collect(settings: Settings, logical: str, done: Callable[[list[Event]], bool], timeout_s: float = 60.0) -> list[Event]:
    """Every value of ``logical`` from the beginning, read until ``done`` accepts them or the time is up."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    consumer = reader(settings, logical)
    values: list[Event] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not done(values) and time.monotonic() < deadline:
            values.extend(serde.decode(logical, m.value()) for m in consumer.consume(100, 0.2) if m.error() is None)
        return values
    finally:
        consumer.close()


def left_after_commit(settings: Settings, logical: str, group_id: str) -> int:
    """How many records of ``logical`` a ``read_committed`` reader finds after ``group_id``'s committed offsets."""
    physical = settings.topic(logical)
    group = Consumer(consumer_config(settings, group_id))
    reader = Consumer(consumer_config(settings, f"reader-{uuid.uuid4()}", **{"enable.partition.eof": True}))
    try:
        committed = group.committed([TopicPartition(physical, p) for p in end_offsets(settings, logical)], timeout=10)
        reader.assign([TopicPartition(physical, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING) for tp in committed])
        at_end: set[int] = set()
        found = 0
        deadline = time.monotonic() + 10
        while len(at_end) < len(committed) and time.monotonic() < deadline:
            for message in reader.consume(100, 0.2):
                if message.error() is None:
                    found += 1
                elif message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
        return found
    finally:
        group.close()
        reader.close()


def end_offsets(settings: Settings, logical: str, timeout_s: float = 30.0) -> dict[int, int]:
    """The end offset of each partition, retried while a fresh topic has no leader yet."""
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4()}"))
    physical = settings.topic(logical)
    deadline = time.monotonic() + timeout_s
    try:
        partitions = consumer.list_topics(physical, timeout=10).topics[physical].partitions
        while True:
            try:
                return {p: consumer.get_watermark_offsets(TopicPartition(physical, p), timeout=10)[1] for p in partitions}
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()


def ids_of(values: list[Event]) -> Counter[str]:
    return Counter(v["context"]["message_id"] for v in values)


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def scheduled_consumed(scheduler: Scheduler, settings: Settings) -> float:
    return scheduler.metrics.consumed.labels("scheduler", "scheduled")._value.get()


def test_a_marketing_message_at_night_is_deferred_then_released_at_the_opening(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    pipeline.start_consent()
    scheduler = pipeline.start_scheduler()
    client = opt_in(settings, pipeline.consents, "+33612345678")
    promo = client.send("+33612345678", "promo_spring", {"first_name": "Ava", "discount": "20"}, lane="MARKETING", subscription_group=GROUP)
    otp = client.send("+33612345678", "otp", {"code": "123456"})
    client.flush()

    checked = collect(settings, "consent-checked", lambda v: otp in ids_of(v))
    assert ids_of(checked) == {otp: 1}  # the OTP does not wait for the morning
    receipts = collect(settings, "receipt", lambda v: promo in ids_of(v))
    (deferred,) = [r for r in receipts if r["context"]["message_id"] == promo]
    assert (deferred["status"], deferred["terminal"], deferred["reason"]) == ("DEFERRED", False, "quiet_hours")
    assert wait_until(lambda: scheduled_consumed(scheduler, settings) == 1)
    assert scheduler.metrics.produced.labels("scheduler", "send-requested")._value.get() == 0

    pipeline.clock.at = PARIS_OPENING + timedelta(seconds=1)
    checked = collect(settings, "consent-checked", lambda v: promo in ids_of(v))
    assert ids_of(checked) == {otp: 1, promo: 1}
    frequency = collect(settings, "frequency", lambda v: bool(v))
    assert [s["message_id"] for s in frequency[-1]["sends"]] == [promo]
    # Consent writes a receipt in the same transaction as its consent-checked record, read above: a short read sees all.
    receipts = collect(settings, "receipt", lambda v: False, timeout_s=3.0)
    assert [r["status"] for r in receipts if r["context"]["message_id"] == promo] == ["DEFERRED"]  # no terminal receipt: it went on


def test_a_scheduler_restart_loses_no_deferred_message(pipeline: Pipeline) -> None:
    """Paris numbers open at 07:00 UTC, New York ones at 13:00: the first scheduler releases Paris, then stops.

    What holds: every deferred message is released exactly once. A Paris message released above a New York one
    still held in its partition is read again by the next scheduler, which finds its marker on
    ``scheduler-released`` and skips it; the New York ones are released by the second scheduler. At the end the
    scheduler's group has committed every record.
    """
    settings = pipeline.settings
    paris = [f"+3361234567{i}" for i in range(6)]
    new_york = [f"+1201555010{i}" for i in range(6)]
    pipeline.start_consent()
    first = pipeline.start_scheduler()
    client = opt_in(settings, pipeline.consents, *paris, *new_york)
    sent: dict[str, str] = {}
    for a, b in zip(paris, new_york):  # interleaved, so each partition mixes early and late due times
        for number in (a, b):
            sent[client.send(number, "promo_spring", {"first_name": "Ava", "discount": "20"}, lane="MARKETING",
                             subscription_group=GROUP)] = number
    client.flush()
    paris_ids = {m for m, n in sent.items() if n in paris}
    new_york_ids = set(sent) - paris_ids
    assert wait_until(lambda: scheduled_consumed(first, settings) == 12), "the first scheduler did not hold every deferral"

    pipeline.clock.at = PARIS_OPENING + timedelta(minutes=30)
    checked = collect(settings, "consent-checked", lambda v: paris_ids <= set(ids_of(v)))
    assert set(ids_of(checked)) == paris_ids
    pipeline.stop(first)

    second = pipeline.start_scheduler()
    assert wait_until(lambda: scheduled_consumed(second, settings) >= 6), "the second scheduler did not re-read what was held"
    pipeline.clock.at = NEW_YORK_OPENING + timedelta(minutes=30)
    checked = collect(settings, "consent-checked", lambda v: set(sent) <= set(ids_of(v)))
    counts = ids_of(checked)
    assert set(counts) == set(sent), "lost deferred messages"
    assert all(counts[m] == 1 for m in new_york_ids)
    assert all(counts[m] == 1 for m in paris_ids)  # released above a record still held, yet not released again

    # Each message counts once for its recipient's cap, however often it was checked.
    records = {r["e164"]: r for r in collect(settings, "frequency", lambda v: len({r["e164"] for r in v}) == 12)}
    assert {n: [s["message_id"] for s in r["sends"]] for n, r in records.items()} == {n: [m] for m, n in sent.items()}

    # Nothing is left to release: from the offsets the scheduler's group committed, no record of scheduled remains
    # (past the last record there may be a transaction's commit marker, which no reader gets).
    assert wait_until(lambda: left_after_commit(settings, "scheduled", f"{settings.topic_prefix}courrier-scheduler") == 0,
                      timeout_s=30)
    assert second.metrics.dead_lettered.labels("scheduler", "scheduled", "ValueError")._value.get() == 0


def test_frequency_caps_live_in_kafka_across_consent_instances(pipeline: Pipeline) -> None:
    """Three marketing messages pass (one given in national format, counted on its E.164 partition); after a restart, the fourth is capped."""
    settings = pipeline.settings
    pipeline.clock.at = PARIS_OPENING + timedelta(hours=3)
    first = pipeline.start_consent()
    client = opt_in(settings, pipeline.consents, "+33612345678")
    promos = [client.send("+33612345678", "promo_spring", {"first_name": "Ava", "discount": "20"}, lane="MARKETING", subscription_group=GROUP),
              client.send("06 12 34 56 78", "promo_spring", {"first_name": "Ava", "discount": "20"}, lane="MARKETING",
                          subscription_group=GROUP, default_region="FR")]
    client.flush()
    assert set(ids_of(collect(settings, "consent-checked", lambda v: set(promos) <= set(ids_of(v))))) == set(promos)
    promos.append(client.send("+33612345678", "promo_spring", {"first_name": "Ava", "discount": "20"}, lane="MARKETING", subscription_group=GROUP))
    client.flush()
    assert set(ids_of(collect(settings, "consent-checked", lambda v: set(promos) <= set(ids_of(v))))) == set(promos)
    rekeyed = collect(settings, "send-requested", lambda v: ids_of(v)[promos[1]] == 2)
    assert ids_of(rekeyed)[promos[1]] == 2  # as given, then once more under its E.164 key
    pipeline.stop(first)

    pipeline.start_consent()
    fourth = client.send("+33612345678", "promo_spring", {"first_name": "Ava", "discount": "20"}, lane="MARKETING", subscription_group=GROUP)
    client.flush()
    receipts = collect(settings, "receipt", lambda v: fourth in ids_of(v))
    (capped,) = [r for r in receipts if r["context"]["message_id"] == fourth]
    assert (capped["status"], capped["reason"], capped["terminal"]) == ("SUPPRESSED", "frequency_cap", True)
    assert sum(end_offsets(settings, "scheduled").values()) == 0  # nothing was deferred: the cap needs no scheduler
