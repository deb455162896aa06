"""Clicks per button, from receipts: people's first clicks apart from their repeats and from link-preview bots.

A button is what a ``CLICKED`` receipt names in ``reason``: ``link:<token>`` for an SMS short link (the links
service), ``button:<n>`` for an RCS suggestion when the receipt says which; a receipt naming none counts under its
stage (``rcs suggestion``). A click is a bot's when the links service marked it (``provider_status``
``preview_bot``, a known user agent) or when it came within ``BOT_WITHIN`` of the message's delivery report (either
side: a delivery report can trail the handset by a moment): no person reads and taps within a second, but a messaging
app's link preview fetches at once. Of the other clicks, a
message's first on a button is unique, the rest are repeats. The same receipt read twice (same ``receipt_id``)
counts once.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from processors.runtime.stage import Event

BOT_WITHIN = timedelta(seconds=1)
PREVIEW_BOT = "preview_bot"  # processors.links.logic writes it; not imported, so readers need not load the links service
_DELIVERED = frozenset({"DELIVERED", "PARTIALLY_DELIVERED"})


@dataclass(frozen=True)
class ButtonClicks:
    """The clicks of one button of one campaign variant."""

    campaign_id: str | None
    variant: str | None
    button: str
    unique: int
    repeats: int
    bots: int


def button(receipt: Event) -> str:
    """The button a ``CLICKED`` receipt names (see the module's docstring)."""
    reason = receipt.get("reason") or ""
    if reason.startswith(("link:", "button:")):
        return reason
    return "link" if receipt.get("stage") == "links" else "rcs suggestion"


def count(receipts: Iterable[Event], bot_within: timedelta = BOT_WITHIN) -> list[ButtonClicks]:
    """Clicks per (campaign, variant, button) over ``receipts`` in any order, sorted by campaign, variant, button."""
    delivered: dict[str, datetime] = {}
    clicks: list[Event] = []
    seen: set[str] = set()
    for receipt in receipts:
        receipt_id = receipt.get("receipt_id")
        if receipt_id is not None:
            if receipt_id in seen:
                continue
            seen.add(receipt_id)
        message_id = receipt["context"]["message_id"]
        if receipt["status"] in _DELIVERED:
            earlier = delivered.get(message_id)
            delivered[message_id] = receipt["occurred_at"] if earlier is None else min(earlier, receipt["occurred_at"])
        elif receipt["status"] == "CLICKED":
            clicks.append(receipt)
    tallies: dict[tuple[str | None, str | None, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    first: set[tuple[str, str]] = set()
    for click in sorted(clicks, key=lambda r: r["occurred_at"]):
        context = click["context"]
        name = button(click)
        tally = tallies[(context.get("campaign_id"), context.get("variant"), name)]
        at_delivery = delivered.get(context["message_id"])
        if click.get("provider_status") == PREVIEW_BOT or (at_delivery is not None and abs(click["occurred_at"] - at_delivery) < bot_within):
            tally[2] += 1
        elif (context["message_id"], name) in first:
            tally[1] += 1
        else:
            first.add((context["message_id"], name))
            tally[0] += 1
    return [ButtonClicks(campaign, variant, name, *tally)
            for (campaign, variant, name), tally in sorted(tallies.items(), key=lambda item: tuple(str(k) for k in item[0]))]
