"""A campaign's receipts counted per variant, status and channel, from one bounded scan of the ``receipt`` topic.

The channel tells an A/B arm's RCS deliveries from its SMS ones (SMS fallbacks among them).

The scan reads each partition from its start up to its end as of the call (or at most ``max_records``
records), so it ends even while receipts keep arriving. A message has one receipt per outcome it
goes through (e.g. ``sent`` then ``delivered``), so the counts are receipts, not messages.
"""
from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from courrier.config import Settings
from processors.runtime.clients import consumer_config
from processors.runtime.errors import DecodeError
from processors.runtime.serde import AvroSerde


@dataclass(frozen=True)
class ReceiptCounts:
    """Receipts of one campaign by (variant, status, channel); ``complete`` is False when a limit ended the scan early."""

    counts: Counter[tuple[str | None, str, str | None]]
    scanned: int
    complete: bool


def count_receipts(settings: Settings, campaign_id: str, max_records: int = 1_000_000, timeout_s: float = 60.0,
                   serde: AvroSerde | None = None) -> ReceiptCounts:
    """Count the receipts whose context names ``campaign_id``, reading at most ``max_records`` records for ``timeout_s``."""
    serde = serde or AvroSerde(settings.registry_url, settings.topic)
    physical = settings.topic("receipt")
    consumer = Consumer(consumer_config(settings, f"courrier-campaign-status-{uuid.uuid4()}"))
    # Avro writes strings as their UTF-8 bytes: a record without them cannot name the campaign, and needs no decoding.
    needle = campaign_id.encode()
    counts: Counter[tuple[str | None, str, str | None]] = Counter()
    scanned = 0
    try:
        metadata = consumer.list_topics(physical, timeout=10).topics.get(physical)
        partitions = sorted(metadata.partitions) if metadata is not None and not metadata.error else []
        ends = {p: consumer.get_watermark_offsets(TopicPartition(physical, p), timeout=10)[1] for p in partitions}
        behind = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(physical, p, OFFSET_BEGINNING) for p in behind])
        deadline = time.monotonic() + timeout_s
        while behind and scanned < max_records and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.5):
                if message.error() or message.partition() not in behind or message.offset() >= ends[message.partition()]:
                    continue
                scanned += 1
                value = message.value()
                if value is None or needle not in value:
                    continue
                try:
                    receipt = serde.decode("receipt", value)
                except DecodeError:  # not a receipt this reader can read: it cannot be counted, and must not stop the scan
                    continue
                if receipt["context"].get("campaign_id") == campaign_id:
                    counts[(receipt["context"].get("variant"), receipt["status"], receipt.get("channel"))] += 1
            # The position, not the last message, says a partition is done: transaction markers end many partitions.
            for position in consumer.position([TopicPartition(physical, p) for p in behind]):
                if position.offset >= ends[position.partition]:
                    behind.discard(position.partition)
        return ReceiptCounts(counts, scanned, complete=not behind)
    finally:
        consumer.close()
