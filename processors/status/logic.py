"""Pure status rules: a message's row moved by one receipt, and a campaign's counts moved by that change.

A message's ``status`` is its outcome once a terminal receipt came: later engagement moves it on (``READ``, then
``CLICKED``), while reports on an attempt the SMS fallback replaced (receipts that are not terminal) do not. Before
the outcome it is the latest receipt's status (``SENT``, ``DEFERRED``, an RCS attempt's ``UNDELIVERED`` while its
fallback is on its way). Receipts of one message share a partition (the receipt topic is keyed by recipient), so
they are read in the order they were written.

Cost: every receipt of an attempt repeats that attempt's cost (``processors.receipt.logic``); the row counts it once
per attempt, on the attempt's ``SENT`` receipt (``billed`` keeps those receipt ids), so an RCS attempt and its SMS
fallback are both billed and neither twice.

A receipt whose ``receipt_id`` is already in the row's history changes nothing (the same receipt written twice after
a crash, or read again): the projection is idempotent for the receipts its bounded history still remembers.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from processors.runtime.stage import Event

HISTORY_KEPT = 50
# Engagement after the outcome, in the order it moves the status on.
ENGAGEMENT = ("READ", "CLICKED")
ATTEMPT_FIELDS = ("channel", "fallback_reason", "segments", "provider")
FLOW_PREFIX = "flow:"
NO_VARIANT = "-"
PREVIEW_BOT = "preview_bot"  # processors.links.logic: a link previewer's GET, not a click
MAX_BUTTONS = 50
OTHER_BUTTONS = "(other buttons)"


def view_id(context: Event) -> str | None:
    """Whose counts a message's receipts move: its campaign's, else for a transactional message its flow's
    (``flow:<source>``: the API, the keywords stage… receipts do not carry the template), else nobody's."""
    if context.get("campaign_id"):
        return str(context["campaign_id"])
    if context.get("lane") == "TRANSACTIONAL":
        return f"{FLOW_PREFIX}{context.get('source') or 'unknown'}"
    return None


def button_of(receipt: Event) -> str | None:
    """The button a ``CLICKED`` receipt counts for (a short link's URL, an RCS suggestion's detail), or None when the
    receipt is not a click a person made (another status, or a link-preview bot's GET)."""
    if receipt["status"] != "CLICKED" or receipt.get("provider_status") == PREVIEW_BOT:
        return None
    kind = "link" if receipt.get("stage") == "links" else "suggestion"
    return f"{kind} {receipt.get('detail') or '(not recorded)'}"


def conversions_key(campaign_id: str, partition: int) -> str:
    """The ``campaign-status`` key of a campaign's conversions read from one ``conversions`` partition (one writer each)."""
    return f"{campaign_id}|conversions|{partition}"


def converted(counts: Event | None, conversion: Event, partition: int, now: datetime) -> Event:
    """A campaign's conversion counts over one ``conversions`` partition once ``conversion`` is added: by event, by
    variant, and their value by currency."""
    base: Event = counts if counts is not None else {
        "campaign_id": conversion["campaign_id"], "partition": partition, "messages": 0, "statuses": {}, "receipts": [],
        "cost_micros": 0, "currency": None, "segments": 0, "variants": {}, "buttons": {}, "fallbacks": 0,
        "conversions": {}, "variant_conversions": {}, "conversion_value_micros": {}, "revision": -1,
    }
    values = dict(base["conversion_value_micros"])
    if conversion.get("value_micros") is not None:
        currency = conversion.get("currency") or "?"
        values[currency] = values.get(currency, 0) + conversion["value_micros"]
    return {**base, "conversions": _added(base["conversions"], conversion["event"]),
            "variant_conversions": _added(base["variant_conversions"], conversion.get("variant") or NO_VARIANT),
            "conversion_value_micros": values, "revision": base["revision"] + 1, "updated_at": now}


def campaign_key(campaign_id: str, partition: int) -> str:
    """The ``campaign-status`` key of a campaign's counts over one receipt partition."""
    return f"{campaign_id}|{partition}"


def seen(row: Event | None, receipt: Event) -> bool:
    """Whether ``row``'s history already holds ``receipt`` (by its id; a receipt without one is never known)."""
    receipt_id = receipt.get("receipt_id")
    return row is not None and receipt_id is not None and any(c["receipt_id"] == receipt_id for c in row["history"])


def next_status(row: Event | None, receipt: Event) -> tuple[str, bool]:
    """The row's (status, terminal) once ``receipt`` is applied (see the module's docstring)."""
    status, terminal = receipt["status"], bool(receipt["terminal"])
    if row is None or not row["terminal"]:
        return status, terminal
    if status in ENGAGEMENT and _engagement_rank(status) > _engagement_rank(row["status"]):
        return status, True
    return row["status"], True


def project(row: Event | None, receipt: Event, now: datetime) -> Event | None:
    """``row`` (None for a message not seen yet) with ``receipt`` applied, or None when the receipt is already in it."""
    if seen(row, receipt):
        return None
    status, terminal = next_status(row, receipt)
    context = receipt["context"]
    base: Event = row if row is not None else {
        "message_id": context["message_id"], "channel": None, "fallback_reason": None, "segments": None, "cost_micros": None,
        "currency": None, "billed": [], "provider": None, "history": [], "history_dropped": 0, "revision": -1,
    }
    moved = row is None or not row["terminal"] or (status, terminal) != (row["status"], row["terminal"])
    # The latest attempt's fields, from a receipt that moved the message and names a channel (not a consent refusal's).
    keep = not moved or receipt.get("channel") is None
    attempt = {name: base[name] if keep else receipt.get(name) for name in ATTEMPT_FIELDS}
    history = [*base["history"], _change(receipt)]
    dropped = max(0, len(history) - HISTORY_KEPT)
    return {
        **base, **attempt, **_billing(base, receipt), "context": context, "recipient": receipt["recipient"],
        "status": status, "terminal": terminal, "history": history[dropped:],
        "history_dropped": base["history_dropped"] + dropped, "revision": base["revision"] + 1, "updated_at": now,
    }


def billed_now(row: Event | None, receipt: Event) -> bool:
    """Whether ``receipt`` bills an attempt ``row`` has not billed: a priced ``SENT`` receipt not counted yet."""
    receipt_id = receipt.get("receipt_id")
    return (receipt["status"] == "SENT" and receipt.get("cost_micros") is not None
            and (row is None or receipt_id is None or receipt_id not in row["billed"]))


def _billing(row: Event, receipt: Event) -> dict[str, Any]:
    if not billed_now(row, receipt):
        return {}
    return {"cost_micros": (row["cost_micros"] or 0) + receipt["cost_micros"], "currency": receipt.get("currency") or row["currency"],
            "billed": [*row["billed"], receipt.get("receipt_id") or ""]}


def _change(receipt: Event) -> Event:
    return {"receipt_id": receipt.get("receipt_id"), "status": receipt["status"], "terminal": bool(receipt["terminal"]),
            "reason": receipt.get("reason"), "stage": receipt["stage"], "channel": receipt.get("channel"),
            "occurred_at": receipt["occurred_at"]}


def _engagement_rank(status: str) -> int:
    return ENGAGEMENT.index(status) + 1 if status in ENGAGEMENT else 0


def counted(counts: Event | None, before: Event | None, after: Event, receipt: Event, partition: int, now: datetime) -> Event:
    """A campaign's counts over one receipt partition once the message moved from ``before`` (None: new) to ``after``
    on ``receipt``: its message count, messages by current status, receipts by (variant, status, channel), cost and
    segments of the attempts billed, messages by variant and status, clicks by button and messages that fell back."""
    context = receipt["context"]
    base: Event = counts if counts is not None else {
        "campaign_id": view_id(context), "partition": partition, "messages": 0, "statuses": {}, "receipts": [],
        "cost_micros": 0, "currency": None, "segments": 0, "variants": {}, "buttons": {}, "fallbacks": 0,
        "conversions": {}, "variant_conversions": {}, "conversion_value_micros": {}, "revision": -1,
    }
    statuses = _moved(base["statuses"], before, after)
    variant = context.get("variant") or NO_VARIANT
    variants = {**base.get("variants", {}), variant: _moved(base.get("variants", {}).get(variant, {}), before, after)}
    buttons = dict(base.get("buttons", {}))
    button = button_of(receipt)
    if button is not None:
        # A URL with a per-message part (an order id) is a button per message: past MAX_BUTTONS the row stays small.
        button = button if button in buttons or len(buttons) < MAX_BUTTONS else OTHER_BUTTONS
        buttons[button] = buttons.get(button, 0) + 1
    fell_back = bool(after.get("fallback_reason")) and not (before or {}).get("fallback_reason")
    which = (context.get("variant"), receipt["status"], receipt.get("channel"))
    receipts = [dict(r) for r in base["receipts"]]
    for entry in receipts:
        if (entry["variant"], entry["status"], entry["channel"]) == which:
            entry["count"] += 1
            break
    else:
        receipts.append({"variant": which[0], "status": which[1], "channel": which[2], "count": 1})
    billed = billed_now(before, receipt)
    return {
        **base, "messages": base["messages"] + (before is None), "statuses": statuses, "receipts": receipts,
        "variants": variants, "buttons": buttons, "fallbacks": base.get("fallbacks", 0) + fell_back,
        "cost_micros": base["cost_micros"] + (receipt["cost_micros"] if billed else 0),
        "currency": (receipt.get("currency") or base["currency"]) if billed else base["currency"],
        "segments": base["segments"] + ((receipt.get("segments") or 0) if billed else 0),
        "revision": base["revision"] + 1, "updated_at": now,
    }


def _moved(counts: dict[str, int], before: Event | None, after: Event) -> dict[str, int]:
    """Messages by current status once one message moved from ``before``'s status (None: new) to ``after``'s."""
    moved = dict(counts)
    if before is not None:
        moved[before["status"]] = moved.get(before["status"], 0) - 1
        if moved[before["status"]] <= 0:
            del moved[before["status"]]
    moved[after["status"]] = moved.get(after["status"], 0) + 1
    return moved


def _added(counts: dict[str, int], key: str) -> dict[str, int]:
    return {**counts, key: counts.get(key, 0) + 1}
