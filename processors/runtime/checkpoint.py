"""Making one batch durable: what was produced and which input offsets are done, together.

Exactly-once (the default), one Kafka transaction per batch:
  1. ``begin``: open the transaction; every output, dead-letter and retry record of the batch is produced inside it.
  2. ``commit``: send the input offsets to the transaction with the consumer's group metadata, so the group
     coordinator refuses them from an instance that lost its partitions (a zombie is fenced by its generation),
  3. then commit the transaction: outputs and offsets become visible to ``read_committed`` readers together.
  A step that fails with a retriable error (a broker restarting, a timeout) is tried again, never aborted: the commit
  may have gone through, and aborting then rewinding would write the batch a second time. Only an error that says
  the transaction must be aborted aborts it; a fatal one (fenced by a newer instance) stops the stage.
  A crash anywhere before step 3 leaves nothing visible; the broker aborts the open transaction (at once when an
  instance with the same ``transactional.id`` starts, else after ``transaction.timeout.ms``), and the next owner of
  the partitions reads the batch again from the last committed offsets.
At-least-once (``--at-least-once``): 1. flush the producer, 2. stop if any delivery failed, 3. commit the offsets;
a crash between 1 and 3 writes the batch's outputs twice.
Either way the producer reports failed deliveries only (``DeliveryErrors``): whether a batch went out is the answer of
its flush or of its transaction's commit, not a call per record.
Either way, a failed commit rewinds the consumer to the batch's first offsets so nothing is skipped. A stage that
holds records across batches (the scheduler) says where to commit instead (``commit_points``).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """A produced record was not acknowledged by the broker; the batch must be processed again."""


class DeliveryErrors:
    """The producer's reports of records it could not deliver; ``producer_config()`` is what makes it report only those."""

    def __init__(self) -> None:
        self.errors: list[KafkaError] = []

    def producer_config(self) -> dict[str, Any]:
        return {"delivery.report.only.error": True, "on_delivery": self.report}

    def report(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self.errors.append(error)


class Checkpoint:
    """Tracks the offsets of the batch in progress and commits them after its outputs are durable."""

    def __init__(self, consumer: Consumer, producer: Producer, exactly_once: bool, deliveries: DeliveryErrors) -> None:
        """``deliveries`` collects the failed-delivery reports of ``producer`` (built with ``deliveries.producer_config()``)."""
        self._consumer = consumer
        self._producer = producer
        self._exactly_once = exactly_once
        self._first: dict[tuple[str, int], int] = {}
        self._next: dict[tuple[str, int], int] = {}
        self._delivery_errors = deliveries.errors
        self._committed: dict[tuple[str, int], int] = {}
        if exactly_once:
            producer.init_transactions()

    def begin(self) -> None:
        """Start a batch (and its transaction)."""
        self._first.clear()
        self._next.clear()
        self._delivery_errors.clear()
        if self._exactly_once:
            self._producer.begin_transaction()

    def track(self, messages: Sequence[Message]) -> None:
        """Mark input records, in the order read, as handled by this batch."""
        first, after = self._first, self._next
        for message in messages:
            key = (message.topic(), message.partition())
            offset = message.offset()
            if key not in first:
                first[key] = offset
            after[key] = offset + 1

    @property
    def pending(self) -> bool:
        return bool(self._next)

    def moved(self, points: dict[tuple[str, int], int]) -> bool:
        """Whether these commit points differ from what was last committed (worth a batch of their own)."""
        return any(self._committed.get(partition) != offset for partition, offset in points.items())

    def commit(self, points: dict[tuple[str, int], int] | None = None) -> None:
        """Make the batch durable; raises ``KafkaException`` or ``DeliveryFailed`` when it is not (the caller then calls
        ``abort``). ``points`` override, per partition, the offset after the batch's last record."""
        done = {**self._next, **(points or {})}
        offsets = [TopicPartition(t, p, o) for (t, p), o in done.items()]
        if self._exactly_once:
            if offsets:
                metadata = self._consumer.consumer_group_metadata()
                _until_settled(lambda: self._producer.send_offsets_to_transaction(offsets, metadata))
            _until_settled(self._producer.commit_transaction)
        else:
            self._producer.flush()
            if self._delivery_errors:
                raise DeliveryFailed(f"{len(self._delivery_errors)} records not delivered: {self._delivery_errors[0]}")
            if offsets:
                self._consumer.commit(offsets=offsets, asynchronous=False)
        self._committed.update(done)
        self._first.clear()
        self._next.clear()

    def forget(self, partitions: list[tuple[str, int]]) -> None:
        """Revoked partitions: what was committed for them is their next owner's business."""
        for partition in partitions:
            self._committed.pop(partition, None)

    def abort(self) -> None:
        """Drop the batch: abort its transaction and seek back so its records are read again."""
        if self._exactly_once:
            try:
                self._producer.abort_transaction()
            except KafkaException as exc:
                log.warning("abort_transaction failed", extra={"error": str(exc)})
        for (topic_name, partition), offset in self._first.items():
            try:
                self._consumer.seek(TopicPartition(topic_name, partition, offset))
            except KafkaException:
                # The partition was revoked meanwhile: its next owner starts from the committed offset, which is before this batch.
                pass
        self._first.clear()
        self._next.clear()
        self._delivery_errors.clear()


def _until_settled(step: Callable[[], None], timeout_s: float = 300.0, pause_s: float = 1.0) -> None:
    """Run a transaction step, again while it fails with a retriable error (its outcome is not known yet), up to
    ``timeout_s``; any other error, or the last retriable one, is raised."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            step()
            return
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or not error.retriable() or error.txn_requires_abort() \
                    or time.monotonic() > deadline:
                raise
            log.warning("transaction step failed, trying it again", extra={"error": str(error)})
            time.sleep(pause_s)
