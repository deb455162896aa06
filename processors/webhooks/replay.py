"""Replay detection in bounded memory: which events were accepted recently, and which are being accepted right now.

An event is claimed before it is published and remembered only once Kafka has it: a provider retrying after a
503 is let through, a second copy arriving while the first is being published waits (409), a copy of an accepted
event is answered without publishing it again. Entries live ``ttl_s`` (twice the signature tolerance covers any
request still signable), and at most ``capacity`` of them: past that the oldest are forgotten early (counted).
"""
from __future__ import annotations

import enum
import threading
from collections import OrderedDict


class Claim(enum.Enum):
    NEW = "new"
    SEEN = "seen"
    PENDING = "pending"


class ReplayGuard:
    """Thread-safe; times are unix seconds."""

    def __init__(self, ttl_s: float, capacity: int) -> None:
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()  # key → when to forget it; insertion order is expiry order
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self.evicted = 0

    def claim(self, key: str, now: float) -> Claim:
        """NEW (and now pending) for a key neither accepted recently nor being accepted; else SEEN or PENDING."""
        with self._lock:
            while self._seen and next(iter(self._seen.values())) <= now:
                self._seen.popitem(last=False)
            if key in self._seen:
                return Claim.SEEN
            if key in self._pending:
                return Claim.PENDING
            self._pending.add(key)
            return Claim.NEW

    def confirm(self, key: str, now: float) -> None:
        """The claimed event is published: remember it."""
        with self._lock:
            self._pending.discard(key)
            self._seen[key] = now + self._ttl_s
            self._seen.move_to_end(key)
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
                self.evicted += 1

    def release(self, key: str) -> None:
        """The claimed event was not published: a retry may claim it again."""
        with self._lock:
            self._pending.discard(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
