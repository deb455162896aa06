"""Building ``receipt`` events: the one schema every stage uses to report an outcome.

Every receipt carries a ``receipt_id`` that names the logical receipt, so a consumer outside the pipeline can drop a
copy it already has (an input processed again after a crash gives the same receipt again, with the same id). It is a
UUIDv5 of (message id, status, part, event): the part is the receipt's ``provider_message_id`` (one part of a long SMS,
or the attempt), the event is the provider report it comes from (``None`` for receipts that no report caused). Two
receipts that differ in any of the four get different ids; nothing else goes in (not the clock, not the input's
offset), so the same receipt built again at another time or from a replayed range keeps its id.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from processors.runtime.stage import Event, Output

# UNKNOWN: the message's deadline came with no delivery report (processors/receipt/state.py); nothing proves either way.
TERMINAL_STATUSES = frozenset(
    {"DELIVERED", "PARTIALLY_DELIVERED", "UNDELIVERED", "FAILED", "EXPIRED", "REJECTED", "SUPPRESSED", "DUPLICATE", "UNKNOWN"}
)
# Fixed forever: changing it would give every receipt written from now on a new id for the same logical receipt.
RECEIPT_ID_NAMESPACE = uuid.UUID("6f1c2b7e-5d0a-5b8e-9c3f-2a4d6e8f0b1c")


def receipt_id(message_id: str, status: str, part: str | None, event_id: str | None) -> str:
    """The id of the receipt of ``status`` for ``message_id``, about ``part`` (a provider message id), caused by the
    provider event ``event_id``; ``None`` where there is no part or no event."""
    # JSON of the tuple: unambiguous (no separator a field could contain, None distinct from "").
    return str(uuid.uuid5(RECEIPT_ID_NAMESPACE, json.dumps([message_id, status, part, event_id])))


def receipt(
    context: Event,
    recipient: str,
    status: str,
    stage: str,
    now: datetime,
    *,
    reason: str | None = None,
    detail: str | None = None,
    event_id: str | None = None,
    **fields: Any,
) -> Output:
    """A ``receipt`` output keyed by recipient; ``terminal`` follows from the status unless ``fields`` say otherwise.

    Extra ``fields`` (channel, segments, provider, provider_message_id, provider_status, fallback_reason, cost_micros,
    currency, terminal) are copied as given; the rest default to null. ``event_id``: the provider event the receipt
    comes from, when one does (it goes into ``receipt_id``).
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
    value["receipt_id"] = receipt_id(context["message_id"], status, value["provider_message_id"], event_id)
    return Output("receipt", recipient, value)
