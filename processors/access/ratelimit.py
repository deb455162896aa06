"""Per-key token buckets: a request passes when its key's bucket holds a token; batches pay per message.

A bucket refills at ``rate`` tokens per second up to ``burst``. A request takes one token or is told
how long to wait. A batch of n messages takes its token at the door and then ``debit``s n-1 more,
which may drive the bucket below zero: the key then waits until its messages are paid for, so the
long-run rate holds for batches too without refusing a batch larger than the burst outright.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """One key's bucket; times are seconds on a monotonic clock, given by the caller."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a bucket needs rate > 0 and burst >= 1, not rate={rate}, burst={burst}")
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self._updated = now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self._updated) * self.rate)
        self._updated = max(self._updated, now)

    def take(self, now: float) -> float:
        """Take one token and return 0, or return the seconds until one will be there (nothing taken)."""
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def debit(self, cost: float, now: float) -> None:
        """Charge ``cost`` tokens already spent (may leave the bucket in debt)."""
        self._refill(now)
        self.tokens -= cost

    def resize(self, rate: float, burst: float, now: float) -> None:
        """New limits for this key, keeping what it has used."""
        self._refill(now)
        self.rate, self.burst = rate, burst
        self.tokens = min(self.tokens, burst)


def retry_after(wait_s: float) -> int:
    """The ``Retry-After`` header value for a wait: whole seconds, at least 1."""
    return max(1, math.ceil(wait_s))


class RateLimiter:
    """The buckets of every key seen by this instance; each enforces its share (1/``share``) of a key's limit."""

    def __init__(self, share: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self._share = share
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str, rate: float, burst: int) -> float:
        """Take a token from ``key_id``'s bucket (limits ``rate``/``burst`` before sharing): 0, or seconds to wait."""
        rate, size = rate / self._share, max(1.0, burst / self._share)
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = TokenBucket(rate, size, now)
            elif (bucket.rate, bucket.burst) != (rate, size):
                bucket.resize(rate, size, now)
            return bucket.take(now)

    def debit(self, key_id: str, cost: float) -> None:
        """Charge ``cost`` more tokens to a key that passed ``take`` (a batch's other messages)."""
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is not None and cost > 0:
                bucket.debit(cost, self._clock())
