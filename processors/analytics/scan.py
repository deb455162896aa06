"""One bounded read of a topic: every partition from its start (or from a time) up to its end as of the call.

The reports, the warehouse export and ``courrier campaign status`` read the ``receipt`` (and ``send-requested``)
topics this way. The scan ends even while records keep arriving, since it stops at the end offsets it saw first;
``max_records`` and ``timeout_s`` bound it further, and ``complete`` says whether it got to every end.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

from confluent_kafka import Consumer, TopicPartition

from common.config import Settings
from common.errors import DecodeError
from common.kafka_clients import consumer_config
from processors.runtime.serde import AvroSerde

# A record's broker timestamp is when it was produced; its event time (a report's occurred_at, a request's
# requested_at) may be a little earlier (a provider's clock, a batch that waited): starting this much before the
# wanted time keeps those records in the scan, and the caller filters on the event time.
TIMESTAMP_SLACK = timedelta(hours=1)


class TopicScan:
    """Iterate once over the decoded values of ``logical`` written before the scan began.

    ``needle``: bytes a record's value must contain to be decoded at all (Avro writes strings as their UTF-8 bytes,
    so a campaign id is a cheap pre-filter). ``since``: start each partition at the first record produced at
    ``since - TIMESTAMP_SLACK`` instead of its beginning. A value this reader cannot decode is skipped (counted in
    ``undecodable``): it cannot be reported on, and must not stop the scan.
    """

    def __init__(self, settings: Settings, logical: str, *, needle: bytes | None = None, since: datetime | None = None,
                 max_records: int = 1_000_000, timeout_s: float = 60.0, serde: AvroSerde | None = None) -> None:
        self._settings = settings
        self._logical = logical
        self._needle = needle
        self._since = since
        self._max_records = max_records
        self._timeout_s = timeout_s
        self._serde = serde or AvroSerde(settings.registry_url, settings.topic)
        self.scanned = 0
        self.undecodable = 0
        self.complete = False

    def __iter__(self) -> Iterator[dict]:
        physical = self._settings.topic(self._logical)
        consumer = Consumer(consumer_config(self._settings, f"courrier-scan-{uuid.uuid4()}"))
        try:
            starts, ends = self._bounds(consumer, physical)
            behind = {p for p, end in ends.items() if starts[p] < end}
            consumer.assign([TopicPartition(physical, p, starts[p]) for p in behind])
            deadline = time.monotonic() + self._timeout_s
            while behind and self.scanned < self._max_records and time.monotonic() < deadline:
                for message in consumer.consume(1000, 0.5):
                    if message.error() or message.partition() not in behind or message.offset() >= ends[message.partition()]:
                        continue
                    self.scanned += 1
                    value = message.value()
                    if value is None or (self._needle is not None and self._needle not in value):
                        continue
                    try:
                        yield self._serde.decode(self._logical, value)
                    except DecodeError:
                        self.undecodable += 1
                # The position, not the last message, says a partition is done: transaction markers end many partitions.
                for position in consumer.position([TopicPartition(physical, p) for p in behind]):
                    if position.offset >= ends[position.partition]:
                        behind.discard(position.partition)
            self.complete = not behind
        finally:
            consumer.close()

    def _bounds(self, consumer: Consumer, physical: str) -> tuple[dict[int, int], dict[int, int]]:
        """Each partition's first offset to read and its end offset as of now (an absent topic has none)."""
        metadata = consumer.list_topics(physical, timeout=10).topics.get(physical)
        partitions = sorted(metadata.partitions) if metadata is not None and not metadata.error else []
        watermarks = {p: consumer.get_watermark_offsets(TopicPartition(physical, p), timeout=10) for p in partitions}
        starts = {p: low for p, (low, _high) in watermarks.items()}
        ends = {p: high for p, (_low, high) in watermarks.items()}
        if self._since is not None and partitions:
            from_ms = int((self._since - TIMESTAMP_SLACK).timestamp() * 1000)
            found = consumer.offsets_for_times([TopicPartition(physical, p, from_ms) for p in partitions], timeout=10)
            # A negative offset: no record at or after that time, so nothing to read there.
            starts = {tp.partition: ends[tp.partition] if tp.offset < 0 else tp.offset for tp in found}
        return starts, ends
