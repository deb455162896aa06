"""Pure callback rules: which receipts are POSTed and as what body, and what a failed try becomes.

A receipt whose context names a ``status_callback`` becomes a ``callbacks`` record with its JSON body fixed once,
so every try sends the same bytes. A try refused (not 2xx, no answer) is tried again after a backoff
(``base_delay_s`` doubling up to ``max_delay_s``) through the ``retry`` delay topic, for ``retry_for_s`` after the
first try (one last try at the end of that window); then it becomes one ``callback-failed`` record, with the last
error. A try that can never succeed (the URL now resolves inside the network) fails at once.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from processors.callbacks.settings import CallbackSettings
from processors.receipts import receipt_id as make_receipt_id
from processors.runtime.stage import Event, Output

FAILED_TOPIC = "callback-failed"
TOPIC = "callbacks"


def body(receipt: Event) -> str:
    """The JSON a receiver gets: the receipt's fields, enums lower case, times ISO 8601 UTC, amounts in micros."""
    context = receipt["context"]
    fields: dict[str, Any] = {
        "receipt_id": receipt_id_of(receipt), "message_id": context["message_id"], "status": receipt["status"].lower(),
        "terminal": receipt["terminal"], "reason": receipt.get("reason"), "detail": receipt.get("detail"),
        "channel": (receipt.get("channel") or "").lower() or None, "fallback_reason": receipt.get("fallback_reason"),
        "segments": receipt.get("segments"), "cost_micros": receipt.get("cost_micros"), "currency": receipt.get("currency"),
        "provider": receipt.get("provider"), "provider_message_id": receipt.get("provider_message_id"),
        "occurred_at": receipt["occurred_at"].isoformat(), "recipient": receipt["recipient"],
        "campaign_id": context.get("campaign_id"), "variant": context.get("variant"), "idempotency_key": context.get("idempotency_key"),
    }
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def receipt_id_of(receipt: Event) -> str:
    """The receipt's id; one computed the same way for a receipt written before receipts carried it."""
    return receipt.get("receipt_id") or make_receipt_id(receipt["context"]["message_id"], receipt["status"],
                                                        receipt.get("provider_message_id"), None)


def delivery(receipt: Event, now: datetime) -> Output | None:
    """The ``callbacks`` record of a receipt whose message has a status callback; None when it has none."""
    context = receipt["context"]
    url = context.get("status_callback")
    if not url:
        return None
    value = {"receipt_id": receipt_id_of(receipt), "message_id": context["message_id"], "api_key_id": context.get("api_key_id"),
             "url": url, "body": body(receipt), "first_attempt_at": now, "attempt": 0, "last_error": None}
    return Output(TOPIC, context["message_id"], value)


def delay_s(attempt: int, settings: CallbackSettings) -> float:
    """Delay before retry number ``attempt`` (1 = the first retry)."""
    return min(settings.max_delay_s, settings.base_delay_s * 2 ** min(attempt - 1, 60))


def after_failure(sent: Event, error: str, now: datetime, settings: CallbackSettings, *, permanent: bool = False) -> Output:
    """What a refused try becomes: the next try, delayed (never past the window's end), or, once the window is over or
    the failure is ``permanent``, one ``callback-failed`` record."""
    tried = {**sent, "attempt": sent["attempt"] + 1, "last_error": error[:500]}
    window_end = sent["first_attempt_at"] + timedelta(seconds=settings.retry_for_s)
    if permanent or now >= window_end:
        return Output(FAILED_TOPIC, sent["message_id"], tried)
    due = min(now + timedelta(seconds=delay_s(tried["attempt"], settings)), window_end)
    return Output(TOPIC, sent["message_id"], tried, deliver_at=due)
