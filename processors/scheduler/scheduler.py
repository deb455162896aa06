"""The scheduler process: hold delayed records in memory, release each to its target topic when due.

It reads ``retry`` (the runtime's backoff), ``scheduled`` (quiet hours, ``send_at``) and ``timers`` (RCS deadlines). Records
are held in memory up to ``max_pending`` per input topic; past that it pauses that topic's
partitions, so memory stays bounded, nothing is dropped, and a campaign deferred overnight never
holds back retries. Offsets are committed only below the lowest held record, so a restart
releases every held record at least once: a record already released above a lower one still
held is read and released again by the next owner (consent re-checks it; dispatch's ledger never
submits a message twice).
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timezone
from typing import Callable

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from courrier.config import Settings
from processors.runtime import policy
from processors.runtime.clients import consumer_config, producer_config, require_broker
from processors.runtime.metrics import MetricsServer, StageMetrics
from processors.scheduler.pending import PendingRecords

log = logging.getLogger(__name__)

INPUTS = ("retry", "scheduled", "timers")


class Scheduler:
    """Releases delay-topic records at their due time; one instance per partition set, like any stage."""

    name = "scheduler"

    def __init__(self, settings: Settings, max_pending: int = 100_000, metrics_port: int | None = None,
                 clock_ms: Callable[[], int] | None = None) -> None:
        self.settings = settings
        self.max_pending = max_pending
        self.metrics = StageMetrics(self.name)
        self._metrics_port = settings.metrics_port if metrics_port is None else metrics_port
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._pending: PendingRecords[Message] = PendingRecords()
        self._stopping = threading.Event()
        self._paused: set[str] = set()
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None

    def stop(self) -> None:
        self._stopping.set()

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Run until ``stop()``, SIGTERM/SIGINT or ``until()``; what is held but not released is simply re-read by the next owner."""
        require_broker(self.settings)
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: self.stop())
        server = MetricsServer(self.metrics, self._metrics_port).start()
        group = f"{self.settings.topic_prefix}courrier-scheduler"
        self._producer = Producer(producer_config(self.settings))
        self._consumer = Consumer(consumer_config(self.settings, group))
        self._consumer.subscribe([self.settings.topic(t) for t in INPUTS], on_revoke=self._on_revoke, on_lost=self._on_revoke)
        try:
            while not self._stopping.is_set() and not (until and until()):
                self.metrics.last_loop = time.monotonic()
                self._intake(self._consumer.consume(500, self._wait_s()))
                self._release()
                self._apply_backpressure()
        finally:
            self._consumer.close()
            self._producer.flush(10)
            server.stop()

    def _wait_s(self) -> float:
        next_due = self._pending.next_due_ms()
        if next_due is None:
            return 0.5
        return min(0.5, max(0.0, (next_due - self._clock_ms()) / 1000))

    def _intake(self, messages: list[Message]) -> None:
        for message in messages:
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error", extra={"stage": self.name, "error": str(message.error())})
                continue
            partition = (message.topic(), message.partition())
            self.metrics.consumed.labels(self.name, message.topic()).inc()
            due = policy.header(message.headers(), policy.DUE_MS)
            target = policy.header(message.headers(), policy.TARGET_TOPIC)
            if not target or not due or not due.lstrip("-").isdigit():
                self._dead_letter(message, ValueError(f"delay record lacks {policy.TARGET_TOPIC} or a numeric {policy.DUE_MS} header"))
                self._pending.skip(partition, message.offset())
                continue
            self._pending.hold(partition, message.offset(), int(due), message)

    def _release(self) -> None:
        assert self._producer and self._consumer
        due = self._pending.due(self._clock_ms())
        if not due:
            return
        for partition, offset, message in due:
            target = policy.header(message.headers(), policy.TARGET_TOPIC)
            attempt = str(policy.attempt_of(message.headers())).encode()
            headers = policy.carried_headers(message.headers()) + [(policy.ATTEMPT, attempt)]
            while True:
                try:
                    self._producer.produce(target, value=message.value(), key=message.key(), headers=headers,
                                           on_delivery=self._on_released(partition, offset, message))
                    break
                except BufferError:  # the local queue is full: serve delivery callbacks until there is room
                    self._producer.poll(0.05)
            self.metrics.produced.labels(self.name, target).inc()
        remaining = self._producer.flush(30)
        if remaining:
            log.error("released records not acknowledged yet; each is offered again if its delivery fails", extra={"count": remaining})
        self._commit()

    def _on_released(self, partition: tuple[str, int], offset: int, message: Message) -> Callable[[KafkaError | None, Message], None]:
        """Delivery callback of one release: acknowledged → no longer held; failed → held again for the next loop."""
        due_ms = int(policy.header(message.headers(), policy.DUE_MS) or 0)

        def done(error: KafkaError | None, _delivered: Message) -> None:
            if error is None:
                self._pending.released(partition, offset)
                return
            log.warning("release failed, offered again", extra={"stage": self.name, "error": str(error)})
            self._pending.retake(partition, offset, due_ms, message)
        return done

    def _commit(self) -> None:
        assert self._consumer
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._pending.commit_points().items()]
        if offsets:
            self._consumer.commit(offsets=offsets, asynchronous=False)

    def _apply_backpressure(self) -> None:
        """Pause an input topic holding ``max_pending`` records (again each loop, for partitions assigned since); resume below half."""
        assert self._consumer
        for logical in INPUTS:
            physical = self.settings.topic(logical)
            held = self._pending.held_in(physical)
            if held < self.max_pending and physical not in self._paused:
                continue
            partitions = [tp for tp in self._consumer.assignment() if tp.topic == physical]
            if held >= self.max_pending:
                self._consumer.pause(partitions)
                self._paused.add(physical)
            elif held < self.max_pending // 2:
                self._consumer.resume(partitions)
                self._paused.discard(physical)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._pending.drop([(tp.topic, tp.partition) for tp in partitions])

    def _dead_letter(self, message: Message, error: Exception) -> None:
        assert self._producer
        headers = policy.carried_headers(message.headers()) + policy.failure_headers(
            self.name, error, message.topic(), message.partition(), message.offset(), datetime.now(timezone.utc))
        self._producer.produce(self.settings.topic("dead-letter"), value=message.value(), key=message.key(), headers=headers)
        self.metrics.dead_lettered.labels(self.name, message.topic(), type(error).__name__).inc()
