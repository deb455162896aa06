"""A campaign's receipts counted per variant, status and channel, from one bounded scan of the ``receipt`` topic.

The channel tells an A/B arm's RCS deliveries from its SMS ones (SMS fallbacks among them).

The scan (``processors.analytics.scan``) reads each partition from its start up to its end as of the call (or at
most ``max_records`` records), so it ends even while receipts keep arriving. A message has one receipt per outcome it
goes through (e.g. ``sent`` then ``delivered``), so the counts are receipts, not messages.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from courrier.config import Settings
from processors.analytics.scan import TopicScan
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
    scan = TopicScan(settings, "receipt", needle=campaign_id.encode(), max_records=max_records, timeout_s=timeout_s, serde=serde)
    counts: Counter[tuple[str | None, str, str | None]] = Counter(
        (receipt["context"].get("variant"), receipt["status"], receipt.get("channel"))
        for receipt in scan if receipt["context"].get("campaign_id") == campaign_id)
    return ReceiptCounts(counts, scan.scanned, scan.complete)
