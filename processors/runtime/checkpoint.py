"""Making one batch durable: what was produced and which input offsets are done, together.

At-least-once: 1. flush the producer, 2. stop if any delivery failed, 3. commit the offsets.
Exactly-once: 1. send the offsets to the open transaction, 2. commit the transaction (one per batch).
Either way, a failed commit rewinds the consumer to the batch's first offsets so nothing is skipped.
"""
from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """A produced record was not acknowledged by the broker; the batch must be processed again."""


class Checkpoint:
    """Tracks the offsets of the batch in progress and commits them after its outputs are durable."""

    def __init__(self, consumer: Consumer, producer: Producer, exactly_once: bool) -> None:
        self._consumer = consumer
        self._producer = producer
        self._exactly_once = exactly_once
        self._first: dict[tuple[str, int], int] = {}
        self._next: dict[tuple[str, int], int] = {}
        self._delivery_errors: list[KafkaError] = []
        if exactly_once:
            producer.init_transactions()

    def begin(self) -> None:
        """Start a batch (and its transaction)."""
        self._first.clear()
        self._next.clear()
        self._delivery_errors.clear()
        if self._exactly_once:
            self._producer.begin_transaction()

    def track(self, message: Message) -> None:
        """Mark an input record as handled by this batch."""
        key = (message.topic(), message.partition())
        self._first.setdefault(key, message.offset())
        self._next[key] = message.offset() + 1

    def on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        """Delivery callback for every record produced in the batch."""
        if error is not None:
            self._delivery_errors.append(error)

    @property
    def pending(self) -> bool:
        return bool(self._next)

    def commit(self) -> None:
        """Make the batch durable; raises ``KafkaException`` or ``DeliveryFailed`` when it is not (the caller then calls ``abort``)."""
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._next.items()]
        if self._exactly_once:
            if offsets:
                self._producer.send_offsets_to_transaction(offsets, self._consumer.consumer_group_metadata())
            self._producer.commit_transaction()
        else:
            self._producer.flush()
            if self._delivery_errors:
                raise DeliveryFailed(f"{len(self._delivery_errors)} records not delivered: {self._delivery_errors[0]}")
            if offsets:
                self._consumer.commit(offsets=offsets, asynchronous=False)
        self._first.clear()
        self._next.clear()

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
