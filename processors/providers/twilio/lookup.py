"""Finding a message at Twilio whose create answer was lost: Twilio keeps no client reference of ours.

A create request whose answer never came (timeout, dropped connection, a 5xx) may or may not have made a message.
Twilio has no idempotency key and no field of ours it gives back, so the adapter remembers what each such request
said (``Sent``: To, From, Body, when it left) and looks for it in ``GET Messages.json?To=…[&From=…]`` (newest first):
an outbound message with the same body, created since the request left (less ``CLOCK_SLACK_S``), not already
claimed by another lookup. No date filter: ``DateSent`` is empty while a message waits in Twilio's queue.

Limits, on purpose: the memory is this process's (``SentLog``, bounded: a restart forgets); two identical bodies to one number sent
within the same minutes are told apart only by claiming the oldest unclaimed one; a Messaging Service that rewrites
bodies (smart encoding) makes the body differ and the message not found.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

CLOCK_SLACK_S = 120.0  # Twilio's clock against ours, and date_created's one-second resolution
MAX_PAGES = 5
PAGE_SIZE = 50


@dataclass(frozen=True)
class Sent:
    """What one create request said, and when it left (UTC)."""

    to: str
    from_: str | None  # None when a Messaging Service picks the sender
    body: str
    at: datetime


@dataclass(frozen=True)
class Answered:
    """Twilio's answer to a create request: its sid, or None when it certainly made no message (a refusal)."""

    sid: str | None


class SentLog:
    """Thread-safe, bounded memory of this process's create requests: what each said while its outcome is unknown
    (``Sent``), then Twilio's answer (``Answered``) — an answer may come after ``submit_many`` gave up on it, and a
    later ``reconcile`` must then know it — and the sids lookups have claimed. Past ``capacity`` the oldest go."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, Sent | Answered] = OrderedDict()
        self._claimed: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, message_id: str, entry: Sent | Answered) -> None:
        with self._lock:
            self._entries[message_id] = entry
            self._entries.move_to_end(message_id)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def get(self, message_id: str) -> Sent | Answered | None:
        """What this process knows of ``message_id``; None when it never sent it (or forgot it)."""
        with self._lock:
            return self._entries.get(message_id)

    def claim(self, candidates: Iterable[str]) -> str | None:
        """The first SID of ``candidates`` no lookup has claimed yet, now claimed."""
        with self._lock:
            for sid in candidates:
                if sid not in self._claimed:
                    self._claimed[sid] = None
                    while len(self._claimed) > self._capacity:
                        self._claimed.popitem(last=False)
                    return sid
            return None


def list_params(sent: Sent) -> dict[str, str]:
    """The query of the list request that would show the message."""
    params = {"To": sent.to, "PageSize": str(PAGE_SIZE)}
    if sent.from_ is not None:
        params["From"] = sent.from_
    return params


def candidates(page: Mapping[str, Any], sent: Sent) -> tuple[list[str], bool]:
    """The SIDs on one list page that could be the message (newest first, as listed), and whether older pages can hold more."""
    since = sent.at - timedelta(seconds=CLOCK_SLACK_S)
    found: list[str] = []
    older_reached = False
    for message in page.get("messages") or []:
        created = _created(message)
        if created is not None and created < since:
            older_reached = True  # newest first: everything after this is older still
            break
        if (str(message.get("direction", "")).startswith("outbound") and message.get("body") == sent.body
                and isinstance(message.get("sid"), str)):
            found.append(message["sid"])
    return found, not older_reached


def _created(message: Mapping[str, Any]) -> datetime | None:
    try:
        return parsedate_to_datetime(str(message.get("date_created")))
    except (TypeError, ValueError):
        return None
