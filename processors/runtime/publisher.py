"""Durable writes: each call learns whether every one of its records was acknowledged by the broker.

``CourrierClient`` queues and flushes, which suits scripts; an HTTP 202 promises that the record is on
the topic, so the intake waits for its own records' delivery reports (``Publisher``). One background thread serves
the reports of every concurrent request; librdkafka's own timeout (``message.timeout.ms``) decides
failure, so a record reported as failed was never written. A command that writes a record or two and exits (a key, a
template, a campaign's state) calls ``write_now``.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from confluent_kafka import KafkaError, Message, Producer

from common.config import Settings
from common.errors import UnreachableError
from common.kafka_clients import producer_config
from processors.runtime.placement import Placement
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Output
from topology.topics import TRANSACTIONAL_LANE, lane_topic

# The report comes from librdkafka within its message timeout; this margin only guards against a stuck client.
_WAIT_MARGIN_S = 5.0
WRITE_TIMEOUT_S = 30.0


def write_now(settings: Settings, outputs: Sequence[Output], *, producer: Producer | None = None, serde: AvroSerde | None = None,
              timeout_s: float = WRITE_TIMEOUT_S) -> None:
    """Write ``outputs`` and return once the broker acknowledged every one; ``UnreachableError`` naming the first that
    it did not take, and what to run. ``producer`` and ``serde``: a caller's own, else made for this call."""
    serde = serde or AvroSerde(settings.registry_url, settings.topic)
    if producer is None:
        producer = Producer(producer_config(settings, **{"message.timeout.ms": int(timeout_s * 1000), "client.id": "courrier-write"}))
    failures: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            failures.append(f"{message.topic()}: {error}")

    for output in outputs:
        producer.produce(settings.topic(output.topic), key=output.key, value=serde.encode(output.topic, output.value),
                         on_delivery=delivered)
    if producer.flush(timeout_s + _WAIT_MARGIN_S) or failures:
        reason = failures[0] if failures else f"no acknowledgement within {timeout_s:.0f}s"
        raise UnreachableError(f"the broker {settings.bootstrap_servers} did not take the record ({reason}); "
                               "run `courrier infra up kafka` or set KAFKA_BOOTSTRAP_SERVERS, then run the command again")


class _Deliveries:
    """The delivery reports of one call: an error text (or None) per record, and an event once all are in."""

    def __init__(self, count: int) -> None:
        self.errors: list[str | None] = ["no delivery report"] * count
        self._left = count
        self._lock = threading.Lock()
        self.done = threading.Event()
        if count == 0:
            self.done.set()

    def report(self, index: int, error: KafkaError | None, _message: Message) -> None:
        with self._lock:
            self.errors[index] = None if error is None else str(error)
            self._left -= 1
            if self._left == 0:
                self.done.set()


class Publisher:
    """An idempotent producer of logical topics' records, with a blocking ``publish`` safe to call from many threads."""

    def __init__(self, settings: Settings, timeout_s: float, serde: AvroSerde | None = None) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._serde = serde or AvroSerde(settings.registry_url, settings.topic)
        self._producer = Producer(producer_config(settings, **{"message.timeout.ms": int(timeout_s * 1000), "client.id": "courrier-intake"}))
        self._placement = Placement(settings, self._producer)
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._serve_reports, name="intake-delivery-reports", daemon=True)

    def start(self, logical_topics: Sequence[str]) -> None:
        """Register the topics' schemas now, their lanes' too (a bad registry fails at start), then serve delivery reports."""
        self._serde.prepare([*logical_topics, *(TRANSACTIONAL_LANE[t] for t in logical_topics if t in TRANSACTIONAL_LANE)])
        self._poller.start()

    def publish(self, outputs: Sequence[Output]) -> list[str | None]:
        """Produce ``outputs`` and wait for their reports: None per record written, else why it was not."""
        deliveries = _Deliveries(len(outputs))
        deadline = time.monotonic() + self._timeout_s + _WAIT_MARGIN_S
        for index, output in enumerate(outputs):
            logical = lane_topic(output.topic, output.value)  # a transactional request takes its lane's topic
            value = self._serde.encode(logical, output.value)
            while True:
                try:
                    physical = self._settings.topic(logical)
                    self._producer.produce(physical, key=output.key, value=value, partition=self._placement.partition(physical, output.key),
                                           on_delivery=lambda err, msg, i=index: deliveries.report(i, err, msg))
                    break
                except BufferError:  # the local queue is full: the poller drains it as reports come back
                    if time.monotonic() > deadline:
                        deliveries.report(index, KafkaError(KafkaError._QUEUE_FULL), None)  # type: ignore[arg-type]
                        break
                    time.sleep(0.01)
        deliveries.done.wait(max(0.0, deadline - time.monotonic()))
        return list(deliveries.errors)

    def _serve_reports(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.1)

    def close(self) -> None:
        """Stop serving reports and flush what is still queued."""
        self._stopping.set()
        if self._poller.is_alive():
            self._poller.join(timeout=5)
        self._producer.flush(self._timeout_s)
