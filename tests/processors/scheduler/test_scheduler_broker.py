"""The scheduler through a real broker, on an injected clock: a full ``scheduled`` topic pauses alone, retries and
deadlines (``timers``) still flow."""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from common.config import Settings
from common.kafka_clients import consumer_config
from processors.runtime import policy
from processors.scheduler.scheduler import Scheduler
from topology.topics import delay_topic

NOW_MS = 1_900_000_000_000
LATER_MS = NOW_MS + 8 * 3600 * 1000


def read_values(settings: Settings, logical: str, expected: int, timeout_s: float = 60.0) -> Counter[bytes]:
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4()}"))
    physical = settings.topic(logical)
    consumer.assign([TopicPartition(physical, p, OFFSET_BEGINNING) for p in consumer.list_topics(physical, timeout=10).topics[physical].partitions])
    found: Counter[bytes] = Counter()
    deadline = time.monotonic() + timeout_s
    while sum(found.values()) < expected and time.monotonic() < deadline:
        found.update(m.value() for m in consumer.consume(500, 0.2) if m.error() is None)
    consumer.close()
    return found


@contextmanager
def paused_scheduler(settings: Settings, clock: dict[str, int], max_pending: int = 100_000) -> Iterator[Scheduler]:
    """A scheduler on ``clock``, running until ``scheduled`` (filled beforehand) pauses alone; stopped afterwards."""
    scheduler = Scheduler(settings, max_pending=max_pending, metrics_port=0, clock_ms=lambda: clock["ms"])
    thread = threading.Thread(target=scheduler.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not scheduler.paused and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scheduler.paused == {"scheduled"}
        yield scheduler
    finally:
        scheduler.stop()
        thread.join(30)


def test_a_campaign_deferred_overnight_does_not_hold_back_retries_or_deadlines(topic_settings: Settings) -> None:
    settings = topic_settings
    clock = {"ms": NOW_MS}
    target = settings.topic("dead-letter")  # any topic: the scheduler moves bytes, it does not decode them
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "linger.ms": 20})
    for i in range(2000):
        producer.produce(settings.topic("scheduled"), key=f"k{i % 50}", value=f"deferred-{i}".encode(),
                         headers=policy.retry_headers(target, LATER_MS, 0))
    producer.flush(30)
    with paused_scheduler(settings, clock, max_pending=100) as scheduler:
        consumed = scheduler.metrics.consumed.labels("scheduler", "scheduled")._value.get()
        assert 100 <= consumed < 2000  # paused after a batch: the rest waits in Kafka, not in memory

        producer.produce(settings.topic("retry"), key="r", value=b"retry-now", headers=policy.retry_headers(target, NOW_MS, 1))
        producer.produce(settings.topic(delay_topic("rcs-deadline")), key="m", value=b"deadline-now",
                         headers=policy.retry_headers(target, NOW_MS, 0))
        producer.flush(30)
        assert read_values(settings, "dead-letter", expected=2) == Counter({b"retry-now": 1, b"deadline-now": 1})

        clock["ms"] = LATER_MS
        released = read_values(settings, "dead-letter", expected=2002)
        assert released == Counter({b"retry-now": 1, b"deadline-now": 1, **{f"deferred-{i}".encode(): 1 for i in range(2000)}})


def test_200k_marketing_records_deferred_overnight_never_hold_back_a_transactional_one(topic_settings: Settings) -> None:
    """The marketing lane's delay topic fills the scheduler (it pauses at ``max_pending``); an OTP paced a moment later
    waits in its own lane's topic and leaves when due, while the campaign still waits for the morning."""
    settings = topic_settings
    clock = {"ms": NOW_MS}
    target = settings.topic("dead-letter")
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "linger.ms": 50, "batch.num.messages": 10000})
    headers = policy.retry_headers(target, LATER_MS, 0)
    for i in range(200_000):
        while True:
            try:
                producer.produce(settings.topic("scheduled"), key=f"k{i % 500}", value=b"campaign", headers=headers)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)
    with paused_scheduler(settings, clock) as scheduler:
        assert scheduler.stage.max_pending <= scheduler.metrics.consumed.labels("scheduler", "scheduled")._value.get() < 200_000

        producer.produce(settings.topic(delay_topic("rendered-transactional")), key="otp", value=b"otp-paced",
                         headers=policy.retry_headers(target, NOW_MS + 500, 0))
        producer.flush(30)
        clock["ms"] = NOW_MS + 500
        assert read_values(settings, "dead-letter", expected=1) == Counter({b"otp-paced": 1})
        assert scheduler.metrics.produced.labels("scheduler", "dead-letter")._value.get() == 1  # the campaign still waits
