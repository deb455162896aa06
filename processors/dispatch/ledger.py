"""The submissions ledger: the compacted ``submissions`` topic as dispatch's memory of what it handed to a provider.

Read into memory at start. One synchronous write per wave, outside any batch transaction, *before* its submit
(SUBMITTING: flushed and acknowledged by the broker, else nothing is submitted). The answers' records (SUBMITTED,
FAILED) are not written here: they ride the batch's own transaction as outputs (``remember`` makes them visible to
this process at once), so they are durable exactly when the ``dispatched`` records they explain are. A crash between
the submit and the commit leaves SUBMITTING, which tells the next owner the outcome is unknown: it looks the message
up at its provider or ends it, and never submits it again. ``write_later`` queues records that have no batch output
to ride with (a transient refusal's FAILED) on the same producer, flushed by the next wave's write.
"""
from __future__ import annotations

import logging
import threading
from typing import Iterable

from confluent_kafka import KafkaError, Producer

from common.config import Settings
from common.errors import TransientError
from common.kafka_clients import producer_config
from processors.dispatch.reports import KafkaEventSink
from processors.runtime.own_writes import OwnWrites
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, Output
from processors.runtime.table import TopicTable

log = logging.getLogger(__name__)


class SubmissionLedger:
    """Latest SubmissionRecord per message id: this process's own writes or what the topic says, whichever is further."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._table = TopicTable(settings, "submissions", self._serde)
        self._producer: Producer | None = None
        # Own records until the table shows them (the same bytes: no decode to tell): bounded by what is in flight, not
        # by every message ever sent.
        self._own = OwnWrites(self._table, _progress, raw_of=self._table.raw)
        self._users = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        """Load the topic and open the producer; the lanes' stages share one ledger, so only the first start does."""
        with self._lock:
            self._users += 1
            if self._users == 1:
                self._table.start()
                # Delivery reports of failures only: a write waits on its flush, and a Python callback per record
                # acknowledged would be CPU spent on every submission for nothing.
                self._producer = Producer(producer_config(self._settings, **{"delivery.report.only.error": True}))

    def stop(self) -> None:
        """Flush and stop once the last stage that started it stops."""
        with self._lock:
            self._users -= 1
            if self._users == 0:
                if self._producer is not None:
                    self._producer.flush(10)
                self._table.stop()

    def event_sink(self) -> KafkaEventSink:
        """A producer of provider events outside any transaction, to the ledger's cluster and topics."""
        return KafkaEventSink(self._settings)

    def state(self, message_id: str) -> Event | None:
        """The last record written for ``message_id``, by this process or any before it."""
        return self._own.get(message_id)

    def write(self, records: Iterable[Event], timeout_s: float = 30.0) -> None:
        """Make records durable before returning; ``TransientError`` (nothing is submitted then) when the broker does not confirm."""
        assert self._producer is not None, "start() first"
        failures: list[str] = []

        def delivered(error, _message) -> None:
            if error is not None:
                failures.append(str(error))

        topic = self._settings.topic("submissions")
        written = [(record, self._serde.encode("submissions", record)) for record in records]
        for record, raw in written:
            self._producer.produce(topic, key=record["message_id"], value=raw, on_delivery=delivered)
        remaining = self._producer.flush(timeout_s)
        if remaining or failures:
            raise TransientError(f"submissions ledger not confirmed ({remaining} pending, {failures[:1]}); nothing was submitted")
        for record, raw in written:
            self._own.remember(record["message_id"], record, raw)

    def remember(self, records: Iterable[Event]) -> list[Output]:
        """Records this process is about to commit in a batch transaction: what ``state`` answers from now on, and the
        batch's outputs that write them (encoded here, once)."""
        outputs = []
        for record in records:
            raw = self._serde.encode("submissions", record)
            self._own.remember(record["message_id"], record, raw)
            outputs.append(Output("submissions", record["message_id"], raw))
        return outputs

    def write_later(self, records: Iterable[Event]) -> None:
        """Queue records on the ledger's producer without waiting: the next ``write`` (or ``stop``) flushes them; lost with
        a crash before that, the topic keeps the message's previous record (SUBMITTING: the safe side)."""
        assert self._producer is not None, "start() first"
        topic = self._settings.topic("submissions")
        for record in records:
            raw = self._serde.encode("submissions", record)
            self._producer.produce(topic, key=record["message_id"], value=raw, on_delivery=_log_failure)
            self._own.remember(record["message_id"], record, raw)
        self._producer.poll(0)


def _progress(record: Event) -> tuple[int, bool]:
    """A message's records go attempt by attempt, each SUBMITTING then its answer."""
    return record["attempt"], record["state"] != "SUBMITTING"


def _log_failure(error: KafkaError | None, _message: object) -> None:
    if error is not None:
        log.warning("a ledger record queued without waiting was not written", extra={"error": str(error)})
