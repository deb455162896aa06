"""Token buckets on a hand-driven clock: bursts, refill, Retry-After, batch debt, per-key and per-instance shares."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from processors.access.ratelimit import RateLimiter, TokenBucket, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_lets_a_burst_through_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.25) == pytest.approx(0.25)  # half a token came back, nothing was taken
    assert bucket.take(0.5) == 0.0


def test_refill_stops_at_the_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=2, now=0.0)
    assert bucket.take(1000.0) == 0.0 and bucket.take(1000.0) == 0.0 and bucket.take(1000.0) > 0


def test_a_debit_puts_the_bucket_in_debt_until_it_is_paid() -> None:
    bucket = TokenBucket(rate=10.0, burst=10, now=0.0)
    assert bucket.take(0.0) == 0.0
    bucket.debit(29, 0.0)  # a batch of 30 messages
    assert bucket.take(0.0) == pytest.approx(2.1)  # -20 tokens: 2 s to get back to 0, 0.1 s more for one
    assert bucket.take(2.1) == 0.0


@given(st.floats(0.1, 100), st.integers(1, 50), st.lists(st.floats(0, 5), min_size=1, max_size=200))
def test_never_more_than_the_burst_plus_the_refill_passes(rate: float, burst: int, gaps: list[float]) -> None:
    bucket, now, passed = TokenBucket(rate, burst, 0.0), 0.0, 0
    for gap in gaps:
        now += gap
        passed += bucket.take(now) == 0.0
    assert passed <= burst + rate * now + 1e-6


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert [retry_after(w) for w in (0.001, 1.0, 1.01, 59.5)] == [1, 1, 2, 60]


def test_each_key_has_its_own_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert limiter.take("a", 1.0, 1) == 0.0
    assert limiter.take("a", 1.0, 1) > 0
    assert limiter.take("b", 1.0, 1) == 0.0


def test_each_instance_enforces_its_share_of_a_key_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(share=4, clock=clock)
    assert [limiter.take("a", 8.0, 8) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]  # burst 2, 2 per second


def test_new_limits_apply_to_a_known_key_without_refilling_it() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert limiter.take("a", 1.0, 5) == 0.0
    assert [limiter.take("a", 1.0, 2) for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]  # 4 left, cut to the new burst


def test_a_debit_for_a_key_never_seen_is_ignored() -> None:
    limiter = RateLimiter(clock=Clock())
    limiter.debit("nobody", 10)
    assert limiter.take("nobody", 1.0, 1) == 0.0


def test_a_bucket_needs_a_positive_rate_and_a_burst_of_one() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0.0, 1, 0.0)
    with pytest.raises(ValueError):
        TokenBucket(1.0, 0.5, 0.0)
