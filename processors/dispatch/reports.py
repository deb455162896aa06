"""Provider reports and inbound messages: from the providers' threads to Kafka, answered once the broker has them.

Contract: a provider item with an ``ack`` (an SMPP ``deliver_sm``: a delivery receipt or an inbound SMS) is
acknowledged only after its ``provider-events`` (or ``inbound``) record is acknowledged by the broker (an idempotent
producer, ``acks=all``), never before, and without waiting for any batch of the stage.

These records are produced outside the batch's transaction, on purpose. Inside it, a record the broker acknowledged is
still not durable: an abort discards it, and the SMSC, already answered, would never deliver the report again. Outside
it they are at least once: a crash after the produce and before the answer makes the SMSC deliver the report again
to the next bind, and the receipt stage applies a report once (the webhook receiver does the same for HTTP reports).

Attribution: a report carries the ``dispatched`` message it is about when a committed batch of this process announced
it. A report that no committed batch explains, arriving while a batch is open (its message may be in that batch),
waits for that batch's end (``settled``): then it is attributed, or produced on its own (the receipt stage finds the
message by provider id). Attributing it before the commit would make it overtake its ``dispatched`` record, and the
receipt stage retry it until that record is read.

A part of a long SMS is kept, unacknowledged, until its siblings have reported; the combined report carries and
acknowledges them all. Acknowledging a part as soon as it is kept would lose it with the process if it crashed
before the combined report is out (the SMSC would not send it again). A part delivered again replaces the copy kept.
A message pushed out of the in-flight bound has its kept parts produced on their own.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Protocol

from confluent_kafka import KafkaError, Message, Producer

from common.config import Settings
from common.kafka_clients import producer_config
from processors.dispatch import logic
from processors.dispatch.provider import DeliveryReport, InboundSms
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, Output

log = logging.getLogger(__name__)
Item = DeliveryReport | InboundSms
Done = Callable[[str | None], None]


class EventSink(Protocol):
    """Where provider events go: ``done(None)`` once the broker acknowledged the record, ``done(error)`` if it never will."""

    def start(self) -> None: ...

    def produce(self, output: Output, done: Done) -> None: ...

    def stop(self) -> None: ...


class KafkaEventSink:
    """An idempotent producer (``acks=all``) outside any transaction; one thread serves its delivery reports."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._producer: Producer | None = None
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._serve, name="dispatch-provider-events", daemon=True)

    def start(self) -> None:
        self._serde.prepare(["provider-events", "inbound"])
        self._producer = Producer(producer_config(self._settings, **{"client.id": "courrier-dispatch-events", "linger.ms": 1}))
        self._poller.start()

    def produce(self, output: Output, done: Done) -> None:
        assert self._producer is not None, "start() first"
        value = self._serde.encode(output.topic, output.value)

        def delivered(error: KafkaError | None, _message: Message) -> None:
            done(None if error is None else str(error))

        while True:
            try:
                self._producer.produce(self._settings.topic(output.topic), key=output.key, value=value, on_delivery=delivered)
                return
            except BufferError:  # the local queue is full: the poller drains it as the broker answers
                self._stopping.wait(0.01)

    def _serve(self) -> None:
        assert self._producer is not None
        while not self._stopping.is_set():
            self._producer.poll(0.05)

    def stop(self) -> None:
        """Stop serving, then flush: what the broker acknowledges meanwhile is still answered to its provider."""
        self._stopping.set()
        if self._poller.is_alive():
            self._poller.join(timeout=5)
        if self._producer is not None:
            self._producer.flush(10)


@dataclass
class _InFlight:
    """A message announced by this process whose parts have not all reported yet."""

    dispatched: Event
    part_ids: list[str]
    reports: dict[str, DeliveryReport] = field(default_factory=dict)


class Reporter:
    """Takes provider items (``put``, from any thread) and produces them on a thread of its own, through ``sink``.

    The stage says when a batch opens (``batch_opened``), what it announced (``announced``) and when that batch was
    committed or aborted (``settled``); see the module for why reports wait for that. ``max_in_flight`` bounds the
    messages kept for attribution.
    """

    def __init__(self, sink: EventSink, max_in_flight: int = 1_000_000) -> None:
        self._sink = sink
        self._max_in_flight = max_in_flight
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._in_flight: OrderedDict[str, _InFlight] = OrderedDict()
        self._by_part: dict[str, str] = {}
        self._pending: list[Event] = []  # announced by the open batch: attributed once it is settled
        self._open = False
        self._held: list[DeliveryReport] = []
        self._worker = threading.Thread(target=self._work, name="dispatch-reports", daemon=True)

    def start(self) -> None:
        self._sink.start()
        self._worker.start()

    def stop(self) -> None:
        """Stop taking items (those still queued or held stay unanswered: their provider delivers them again), then
        flush the sink, answering what the broker acknowledges."""
        self._queue.put(None)
        if self._worker.is_alive():
            self._worker.join(timeout=10)
        self._sink.stop()

    def put(self, item: Item) -> None:
        """A provider's callback (any thread)."""
        self._queue.put(item)

    def batch_opened(self) -> None:
        with self._lock:
            self._open = True

    def announced(self, dispatched_events: list[Event]) -> None:
        """``dispatched`` records of the open batch (durable when it commits)."""
        with self._lock:
            self._pending.extend(dispatched_events)

    def settled(self) -> None:
        """The open batch was committed or aborted (an aborted batch is read again and its messages announced again
        with the same ids): its messages are known from now on, and the reports held for it are taken again."""
        with self._lock:
            pending, self._pending = self._pending, []
            held, self._held = self._held, []
            self._open = False
            for dispatched in pending:
                self._remember(dispatched)
        for report in held:
            self._queue.put(report)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                with self._lock:
                    self._take(item)
            except Exception:  # one bad item must not stop the others; unanswered, its provider delivers it again
                log.exception("a provider event could not be produced; its provider may deliver it again")

    def _take(self, item: Item) -> None:
        if isinstance(item, InboundSms):
            self._send(logic.inbound_event(item), [item])
            return
        message_id = self._by_part.get(item.provider_message_id)
        flight = self._in_flight.get(message_id) if message_id else None
        if flight is None:
            if self._open:
                self._held.append(item)
            else:
                self._send(logic.report_event(item, None), [item])
            return
        flight.reports[item.provider_message_id] = item  # a part delivered again replaces the copy kept
        if len(flight.reports) < len(flight.part_ids):
            return
        del self._in_flight[flight.dispatched["context"]["message_id"]]
        for part_id in flight.part_ids:
            self._by_part.pop(part_id, None)
        self._send(logic.report_event(_combined(flight), flight.dispatched), list(flight.reports.values()))

    def _send(self, output: Output, carried: list[Item]) -> None:
        def done(error: str | None) -> None:  # on the sink's thread
            if error is not None:
                log.warning("a provider event was not written; producing it again", extra={"error": error, "topic": output.topic})
                for item in carried:
                    self._queue.put(item)
                return
            for item in carried:
                if item.ack is None:
                    continue
                try:
                    item.ack()
                except Exception:  # one provider's failure must not keep the others' items unanswered
                    log.exception("acknowledging a provider event failed; the provider may deliver it again")

        self._sink.produce(output, done)

    def _remember(self, dispatched: Event) -> None:
        message_id = dispatched["context"]["message_id"]
        self._in_flight[message_id] = _InFlight(dispatched, list(dispatched["provider_message_ids"]))
        for part_id in dispatched["provider_message_ids"]:
            self._by_part[part_id] = message_id
        while len(self._in_flight) > self._max_in_flight:  # bounded memory: the oldest messages lose attribution, not their reports
            _old_id, old = self._in_flight.popitem(last=False)
            for part_id in old.part_ids:
                self._by_part.pop(part_id, None)
            for kept in old.reports.values():
                self._queue.put(kept)


def _combined(flight: _InFlight) -> DeliveryReport:
    """One report for a whole message: the parts' statuses in part order, comma-separated (the normalizer aggregates them)."""
    reports = [flight.reports[p] for p in flight.part_ids]
    if len(reports) == 1:
        return reports[0]
    errors = [r.error_code for r in reports if r.error_code and r.error_code not in ("000", "0")]
    return DeliveryReport(
        provider=reports[0].provider, provider_message_id=flight.part_ids[0],
        raw_status=",".join(r.raw_status for r in reports), error_code=errors[0] if errors else reports[0].error_code,
        raw_text="\n".join(r.raw_text for r in reports), received_at=max(r.received_at for r in reports),
    )
