"""A campaign's receipts counted per variant, status and channel, from one bounded scan of the ``receipt`` topic.

The channel tells an A/B arm's RCS deliveries from its SMS ones (SMS fallbacks among them). Clicks are counted per
button (``processors.conversions.clicks``: unique apart from repeats and link-preview bots), and conversions per
variant, button and event from the ``conversions`` topic, each conversion id once.

The scan (``processors.analytics.scan``) reads each partition from its start up to its end as of the call (or at
most ``max_records`` records), so it ends even while receipts keep arriving. A message has one receipt per outcome it
goes through (e.g. ``sent`` then ``delivered``), so the counts are receipts, not messages.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from common.config import Settings
from processors.analytics.scan import TopicScan
from processors.conversions.clicks import ButtonClicks, count
from processors.runtime.serde import AvroSerde


@dataclass(frozen=True)
class ReceiptCounts:
    """Receipts of one campaign by (variant, status, channel); ``complete`` is False when a limit ended the scan early."""

    counts: Counter[tuple[str | None, str, str | None]]
    scanned: int
    complete: bool
    clicks: list[ButtonClicks]


@dataclass(frozen=True)
class ConversionCounts:
    """Conversions of one campaign by (variant, button, event, currency): how many, and their value in micros."""

    counts: dict[tuple[str | None, str | None, str, str | None], tuple[int, int]]
    complete: bool


def count_receipts(settings: Settings, campaign_id: str, max_records: int = 1_000_000, timeout_s: float = 60.0,
                   serde: AvroSerde | None = None) -> ReceiptCounts:
    """Count the receipts whose context names ``campaign_id``, reading at most ``max_records`` records for ``timeout_s``."""
    scan = TopicScan(settings, "receipt", needle=campaign_id.encode(), max_records=max_records, timeout_s=timeout_s, serde=serde)
    counts: Counter[tuple[str | None, str, str | None]] = Counter()
    engagement = []  # only what click counting needs: deliveries (a click within 1 s of one is a bot's) and clicks
    for receipt in scan:
        if receipt["context"].get("campaign_id") != campaign_id:
            continue
        counts[(receipt["context"].get("variant"), receipt["status"], receipt.get("channel"))] += 1
        if receipt["status"] in ("DELIVERED", "PARTIALLY_DELIVERED", "CLICKED"):
            engagement.append(receipt)
    return ReceiptCounts(counts, scan.scanned, scan.complete, count(engagement))


def count_conversions(settings: Settings, campaign_id: str, max_records: int = 1_000_000, timeout_s: float = 60.0,
                      serde: AvroSerde | None = None) -> ConversionCounts:
    """The campaign's conversions (as ``POST /v1/conversions`` attributed them), each conversion id counted once."""
    scan = TopicScan(settings, "conversions", needle=campaign_id.encode(), max_records=max_records, timeout_s=timeout_s, serde=serde)
    seen: set[str] = set()
    totals: dict[tuple[str | None, str | None, str, str | None], tuple[int, int]] = {}
    for conversion in scan:
        conversion_id = conversion.get("conversion_id")
        if conversion.get("campaign_id") != campaign_id or conversion_id in seen:
            continue
        if conversion_id is not None:
            seen.add(conversion_id)
        key = (conversion.get("variant"), conversion.get("button"), conversion["event"], conversion.get("currency"))
        number, micros = totals.get(key, (0, 0))
        totals[key] = (number + 1, micros + (conversion.get("value_micros") or 0))
    return ConversionCounts(totals, scan.complete)
