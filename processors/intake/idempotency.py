"""The idempotency window: which message an idempotency key already produced, from the compacted ``idempotency`` topic.

The state lives in Kafka, so any instance can die and a new one rebuilds it by reading the topic.
Within one instance a key is claimed under a lock before anything is published, so two concurrent
requests with the same key never both send. Across instances the table is only as fresh as its
propagation delay (a produce, then the other instance's poll): two instances receiving the same key
within that delay can both accept it. Closing that gap needs one owner per key, e.g. the consent
stage, whose input is partitioned by key; that is a later step, not this module's.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

from processors.rules.idempotency import idempotency_record, live_message_id
from processors.runtime.stage import Event, Output

# Claims this instance made are kept until its own table shows them; past this many, the ones the
# table has caught up with are dropped (the table then answers for them).
PRUNE_ABOVE = 10_000


class IdempotencyWindow:
    """Claims idempotency keys against a table of the ``idempotency`` topic plus this instance's own recent claims."""

    def __init__(self, table: Mapping[str, Event], window: timedelta) -> None:
        self._table = table
        self._window = window
        self._claims: dict[str, Event] = {}
        self._lock = threading.Lock()

    @property
    def window(self) -> timedelta:
        return self._window

    def lookup(self, key: str, now: datetime) -> str | None:
        """The message id ``key`` produced, if its window is open at ``now`` (this instance's claims, then the table)."""
        return live_message_id(self._claims.get(key), now) or live_message_id(self._table.get(key), now)

    def claim(self, key: str, message_id: str, now: datetime) -> str | None:
        """Reserve ``key`` for ``message_id`` and return None, or return the message id the key already produced."""
        with self._lock:
            earlier = self.lookup(key, now)
            if earlier is not None:
                return earlier
            if len(self._claims) > PRUNE_ABOVE:
                self._prune(now)
            self._claims[key] = idempotency_record(key, message_id, now, self._window).value
            return None

    def record(self, key: str) -> Output:
        """The ``idempotency`` record of a claim, to publish once its message is on ``send-requested``."""
        with self._lock:
            value = self._claims[key]
        return Output("idempotency", key, value)

    def release(self, key: str, message_id: str) -> None:
        """Give up a claim whose message could not be published, so a retry with the same key may send."""
        with self._lock:
            claim = self._claims.get(key)
            if claim is not None and claim["message_id"] == message_id:
                del self._claims[key]

    def _prune(self, now: datetime) -> None:
        for key, claim in list(self._claims.items()):
            seen = self._table.get(key)
            if claim["expires_at"] <= now or (seen is not None and seen["message_id"] == claim["message_id"]):
                del self._claims[key]
