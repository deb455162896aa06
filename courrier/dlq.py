"""Operators' view of the ``dead-letter`` topic: list what failed and why, and requeue records to their source topic."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Iterator

from confluent_kafka import Consumer, Producer, TopicPartition

from courrier.config import Settings
from courrier.logs import mask_text
from processors.runtime import policy
from processors.runtime.clients import consumer_config, producer_config, require_broker


@dataclass(frozen=True)
class DeadLetter:
    """One dead-letter record: where it came from, why it failed, and its original bytes."""

    offset: int
    partition: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str:
        return policy.header(self.headers, name) or ""

    @property
    def summary(self) -> dict[str, str]:
        return {
            "failed_at": self.header(policy.FAILED_AT), "stage": self.header(policy.STAGE),
            "error": f"{self.header(policy.ERROR_CLASS)}: {mask_text(self.header(policy.ERROR_MESSAGE))}",
            "source": f"{self.header(policy.SOURCE_TOPIC)}[{self.header(policy.SOURCE_PARTITION)}]@{self.header(policy.SOURCE_OFFSET)}",
            "key": mask_text((self.key or b"").decode("utf-8", "replace")), "bytes": str(len(self.value or b"")),
        }


def read(settings: Settings, stage: str | None = None, limit: int = 100, idle_s: float = 2.0) -> Iterator[DeadLetter]:
    """Dead-letter records from the beginning, optionally of one stage; stops at ``limit`` or when nothing arrives for ``idle_s``."""
    require_broker(settings)
    physical = settings.topic("dead-letter")
    consumer = Consumer(consumer_config(settings, f"courrier-dlq-reader-{uuid.uuid4()}"))
    try:
        metadata = consumer.list_topics(physical, timeout=10).topics.get(physical)
        if metadata is None or metadata.error:
            return
        consumer.assign([TopicPartition(physical, p, 0) for p in metadata.partitions])
        found = 0
        last = time.monotonic()
        while found < limit and time.monotonic() - last < idle_s:
            for message in consumer.consume(500, 0.2):
                if message.error():
                    continue
                last = time.monotonic()
                record = DeadLetter(message.offset(), message.partition(), message.key(), message.value(),
                                    [(k, v or b"") for k, v in (message.headers() or [])])
                if stage is None or record.header(policy.STAGE) == stage:
                    found += 1
                    yield record
                    if found >= limit:
                        return
    finally:
        consumer.close()


def requeue(settings: Settings, records: list[DeadLetter]) -> int:
    """Put each record's original bytes back on its source topic (after a fix); returns how many were requeued."""
    producer = Producer(producer_config(settings))
    count = 0
    for record in records:
        source = record.header(policy.SOURCE_TOPIC)
        if not source:
            continue
        producer.produce(source, key=record.key, value=record.value, headers=policy.carried_headers(record.headers))
        count += 1
    producer.flush(30)
    return count
