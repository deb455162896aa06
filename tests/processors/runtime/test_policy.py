"""The failure policy: backoff, and the header contract of dead-letter and retry records."""
from __future__ import annotations

import random
from datetime import datetime, timezone

from hypothesis import given, strategies as st

from processors.runtime import policy


def test_backoff_doubles_and_is_capped() -> None:
    retry = policy.RetryPolicy(base_delay_s=1.0, max_delay_s=10.0, jitter=0.0)
    assert [retry.delay_s(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 10.0]


@given(attempt=st.integers(min_value=1, max_value=30), seed=st.integers())
def test_jitter_stays_within_its_band(attempt: int, seed: int) -> None:
    retry = policy.RetryPolicy(base_delay_s=0.5, max_delay_s=60.0, jitter=0.2)
    base = min(60.0, 0.5 * 2 ** (attempt - 1))
    assert 0.8 * base - 1e-9 <= retry.delay_s(attempt, rng=random.Random(seed)) <= 1.2 * base + 1e-9


def test_a_requested_delay_wins_over_the_backoff() -> None:
    assert policy.RetryPolicy().delay_s(3, requested_s=42.0) == 42.0


def test_failure_headers_say_where_and_why() -> None:
    now = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    headers = dict(policy.failure_headers("render", KeyError("template"), "rendered", 2, 41, now))
    assert headers[policy.STAGE] == b"render"
    assert headers[policy.ERROR_CLASS] == b"KeyError"
    assert headers[policy.ERROR_MESSAGE] == b"'template'"
    assert (headers[policy.SOURCE_TOPIC], headers[policy.SOURCE_PARTITION], headers[policy.SOURCE_OFFSET]) == (b"rendered", b"2", b"41")
    assert headers[policy.FAILED_AT] == b"2026-11-23T08:00:00.000+00:00"


def test_carried_headers_drop_the_runtime_headers_but_keep_the_callers() -> None:
    incoming = [("traceparent", b"00-abc-01"), (policy.ATTEMPT, b"2"), (policy.ERROR_CLASS, b"X"), ("empty", None)]
    assert policy.carried_headers(incoming) == [("traceparent", b"00-abc-01"), ("empty", b"")]


def test_attempt_counts_from_zero_and_reads_the_last_header() -> None:
    assert policy.attempt_of(None) == 0
    assert policy.attempt_of([(policy.ATTEMPT, b"1"), (policy.ATTEMPT, b"3")]) == 3
    assert policy.attempt_of([(policy.ATTEMPT, b"garbage")]) == 0
