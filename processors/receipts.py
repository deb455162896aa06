"""Building ``receipt`` events: the one schema every stage uses to report an outcome."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from processors.runtime.stage import Event, Output

TERMINAL_STATUSES = frozenset(
    {"DELIVERED", "PARTIALLY_DELIVERED", "UNDELIVERED", "FAILED", "EXPIRED", "REJECTED", "SUPPRESSED", "DUPLICATE"}
)


def receipt(
    context: Event,
    recipient: str,
    status: str,
    stage: str,
    now: datetime,
    *,
    reason: str | None = None,
    detail: str | None = None,
    **fields: Any,
) -> Output:
    """A ``receipt`` output keyed by recipient; ``terminal`` follows from the status.

    Extra ``fields`` (channel, segments, provider, provider_message_id, provider_status,
    fallback_reason, cost_micros, currency) are copied as given; the rest default to null.
    """
    value: Event = {
        "context": context,
        "recipient": recipient,
        "status": status,
        "terminal": status in TERMINAL_STATUSES,
        "reason": reason,
        "detail": detail,
        "stage": stage,
        "channel": None,
        "fallback_reason": None,
        "segments": None,
        "cost_micros": None,
        "currency": None,
        "provider": None,
        "provider_message_id": None,
        "provider_status": None,
        "occurred_at": now,
    }
    unknown = set(fields) - set(value)
    if unknown:
        raise TypeError(f"unknown receipt fields: {sorted(unknown)}")
    value.update(fields)
    return Output("receipt", recipient, value)
