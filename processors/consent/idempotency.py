"""Idempotency for requests that reach ``send-requested`` without the HTTP intake (apps publishing to Kafka, campaigns).

The first message an idempotency key produced within its window is kept in the compacted
``idempotency`` topic (the same records the HTTP intake writes); a later request with the same key
and another ``message_id`` ends in a terminal ``DUPLICATE`` receipt naming the first message.

``send-requested`` is keyed by the recipient as given, so two producers sending the same request
land on one partition and one consent instance, which decides under its own claims before the
table has caught up. Two requests with one key but differently written recipients may land on two
instances and both pass within the table's propagation delay (well under a second).

Keys are stored scoped to the request's API key (``message_ids.scoped_key``, the same form the intake
writes), so a request sent with one API key is never answered as a duplicate of another API key's.

``KeyClaims`` also holds the message-id claims (keys ``courrier:message-id:<id>``, see ``message_ids``):
one table, one window, one pruning for both.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from processors.rules.idempotency import scoped_key
from processors.rules.idempotency import idempotency_record, live_message_id
from processors.receipts import receipt
from processors.runtime.stage import Event, Output

STAGE = "consent"
DEFAULT_WINDOW = timedelta(hours=24)


def duplicate(event: Event, first_message_id: str, now: datetime) -> Output:
    """The terminal receipt of a request whose idempotency key already produced ``first_message_id``."""
    context = event["context"]
    return receipt(context, event["recipient"], "DUPLICATE", STAGE, now, reason="duplicate_idempotency_key",
                   detail=f"idempotency key already produced message {first_message_id}")


def stored_key(event: Event) -> str | None:
    """The ``idempotency`` key a request's idempotency key is claimed under (scoped to its API key), or None without a key."""
    context = event["context"]
    return scoped_key(context.get("idempotency_key"), context.get("api_key_id"))


class KeyClaims:
    """Keys seen by this instance: the ``idempotency`` table plus the claims made here that the table may not show yet."""

    def __init__(self, table: Mapping[str, Event], window: timedelta = DEFAULT_WINDOW, max_claims: int = 100_000) -> None:
        self._table = table
        self._window = window
        self._claims: dict[str, Event] = {}
        self._max_claims = max_claims

    def live(self, key: str, now: datetime) -> Event | None:
        """The record of ``key`` whose window is open at ``now`` (this instance's claims first, then the table), or None."""
        for record in (self._claims.get(key), self._table.get(key)):
            if live_message_id(record, now) is not None:
                return record
        return None

    def earlier(self, key: str, message_id: str, now: datetime) -> str | None:
        """The other message ``key`` produced within its window, or None (new key, or this same message seen again)."""
        first = self.live(key, now)
        return None if first is None or first["message_id"] == message_id else str(first["message_id"])

    def claim(self, key: str, message_id: str, now: datetime) -> Output | None:
        """Record ``key`` → ``message_id``; the ``idempotency`` record to publish, or None when the key is already this message's."""
        if live_message_id(self._claims.get(key), now) == message_id or live_message_id(self._table.get(key), now) == message_id:
            return None
        record = idempotency_record(key, message_id, now, self._window)
        self._claims[key] = record.value
        if len(self._claims) > self._max_claims:
            self._prune(now)
        return record

    def _prune(self, now: datetime) -> None:
        """Forget expired claims and those the table shows; past the bound, the oldest (the table has long caught up with them)."""
        for key, claim in list(self._claims.items()):
            seen = self._table.get(key)
            if claim["expires_at"] <= now or (seen is not None and seen["message_id"] == claim["message_id"]):
                del self._claims[key]
        while len(self._claims) > self._max_claims:
            del self._claims[next(iter(self._claims))]
