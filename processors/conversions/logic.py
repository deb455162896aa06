"""Pure attribution: a reported conversion → the message, campaign, variant and button it belongs to, or why not.

A conversion names a message id, a short-link token, or both. The token names its message (the ``links`` table) and
the button (``link:<token>``); a message id alone attributes to the button of the message's last click before the
conversion (its ``CLICKED`` receipts name their button: ``link:<token>``, an RCS suggestion's ``button:<n>``), or to
none when nobody clicked. The message must be
known to Courrier: a receipt of it in ``message-status``, or at least its link in ``links``. The conversion counts
only within the attribution window after the message left (its first ``SENT``, else when it was requested): earlier
than the message or later than the window is refused, so a stale or mistaken report never inflates a campaign.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from processors.runtime.stage import Event

# A caller's clock a little ahead of ours, or a message stamped a moment after its conversion was seen, is not an error.
CLOCK_SKEW = timedelta(minutes=5)
# Receipts that prove the message left (the earliest one starts the window).
_LEFT = frozenset({"SENT", "DELIVERED", "PARTIALLY_DELIVERED", "READ", "CLICKED"})


@dataclass(frozen=True)
class Reported:
    """What a caller reported, checked for shape already (``models.ConversionRequest``)."""

    conversion_id: str
    event: str
    occurred_at: datetime
    message_id: str | None = None
    link_token: str | None = None
    value_micros: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a conversion is not recorded: an HTTP status, a code and a sentence naming the id."""

    status: int
    code: str
    message: str


def button_of_link(token: str) -> str:
    """How a short link is named as a button, on conversions and on the ``reason`` of its ``CLICKED`` receipts."""
    return f"link:{token}"


def left_at(row: Event) -> datetime:
    """When a ``message-status`` row's message left: its earliest receipt proving it, else when it was requested."""
    times = [change["occurred_at"] for change in row.get("history") or () if change["status"] in _LEFT]
    return min(times) if times else row["context"]["requested_at"]


def last_click(row: Event, before: datetime) -> str | None:
    """The button of a ``message-status`` row's last ``CLICKED`` receipt at or before ``before`` that names one."""
    clicks = [change for change in row.get("history") or () if change["status"] == "CLICKED" and change.get("reason")
              and change["occurred_at"] <= before]
    return max(clicks, key=lambda change: change["occurred_at"])["reason"] if clicks else None


def attribute(reported: Reported, message: Event | None, link: Event | None, now: datetime, window: timedelta) -> Event | Refusal:
    """The ``Conversion`` value to record, or the refusal; ``message`` is the ``message-status`` row of the message id
    (given, or the link's) and ``link`` the ``links`` row of the token, each None when unknown."""
    if reported.link_token is not None and link is None:
        return Refusal(404, "unknown_link_token", f"no short link {reported.link_token!r} (mistyped, or older than the links' retention)")
    if link is not None and reported.message_id is not None and link["context"]["message_id"] != reported.message_id:
        return Refusal(422, "link_of_another_message", f"short link {reported.link_token!r} was sent in message "
                                                       f"{link['context']['message_id']}, not {reported.message_id}")
    message_id = link["context"]["message_id"] if link is not None else reported.message_id
    if message is None and link is None:
        return Refusal(404, "unknown_message", f"no message {message_id!r} with a receipt (never sent through Courrier, or not yet)")
    context = message["context"] if message is not None else link["context"]  # type: ignore[index]
    start = left_at(message) if message is not None else link["created_at"]  # type: ignore[index]
    if reported.occurred_at > now + CLOCK_SKEW:
        return Refusal(422, "occurred_in_future", f"occurred_at {reported.occurred_at.isoformat()} is later than now")
    if reported.occurred_at < start - CLOCK_SKEW:
        return Refusal(422, "before_message", f"occurred_at {reported.occurred_at.isoformat()} is before message {message_id} "
                                              f"left ({start.isoformat()})")
    if reported.occurred_at > start + window:
        return Refusal(422, "outside_window", f"occurred_at {reported.occurred_at.isoformat()} is more than {_span(window)} after "
                                              f"message {message_id} left ({start.isoformat()}): outside the attribution window")
    recipient = message["recipient"] if message is not None else link["recipient"]  # type: ignore[index]
    return {
        "message_id": message_id, "link_token": reported.link_token, "event": reported.event,
        "value_micros": reported.value_micros, "currency": reported.currency, "occurred_at": reported.occurred_at,
        "recipient": recipient if recipient.startswith("+") else None, "conversion_id": reported.conversion_id,
        "campaign_id": context.get("campaign_id"), "variant": context.get("variant"),
        "button": button_of_link(reported.link_token) if reported.link_token is not None else (
            last_click(message, reported.occurred_at) if message is not None else None),
    }


def _span(window: timedelta) -> str:
    days, seconds = window.days, window.seconds
    return f"{days} days" if days and not seconds else f"{window.total_seconds():g} s"
