"""The circuit breaker alone: when it opens, how long it stays open, and the one trial call that closes it."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.dispatch.breaker import Breaker, BreakerPolicy

POLICY = BreakerPolicy(failures=3, window=5, cooldown_s=10.0, max_cooldown_s=40.0)


def test_it_opens_once_enough_of_the_recent_answers_failed() -> None:
    breaker = Breaker(POLICY)
    for ok in (False, True, False):
        breaker.record(ok, now=0.0)
    assert breaker.state(0.0) == "closed" and breaker.allows(0.0)
    breaker.record(False, now=1.0)
    assert breaker.state(1.0) == "open" and not breaker.allows(10.9)


def test_old_failures_leave_the_window() -> None:
    breaker = Breaker(POLICY)
    for ok in (False, False, True, True, True, True, True, False):
        breaker.record(ok, now=0.0)
    assert breaker.state(0.0) == "closed"


def test_after_the_cooldown_one_trial_call_decides() -> None:
    breaker = Breaker(POLICY)
    breaker.trip(now=0.0)
    assert breaker.state(10.0) == "half-open" and breaker.allows(10.0)
    breaker.start_trial(10.0)
    assert not breaker.allows(10.0)  # only the trial's traffic while it is out
    breaker.record(True, now=10.5)
    assert breaker.state(10.5) == "closed" and breaker.allows(10.5)


def test_a_failed_trial_doubles_the_cooldown_up_to_the_cap() -> None:
    breaker = Breaker(POLICY)
    breaker.trip(now=0.0)
    opened_at, expected = 10.0, [20.0, 40.0, 40.0]
    for cooldown in expected:
        breaker.start_trial(opened_at)
        breaker.record(False, now=opened_at)
        assert breaker.state(opened_at + cooldown - 0.01) == "open"
        assert breaker.state(opened_at + cooldown) == "half-open"
        opened_at += cooldown


def test_answers_from_before_it_opened_do_not_close_it() -> None:
    breaker = Breaker(POLICY)
    breaker.trip(now=0.0)
    breaker.record(True, now=1.0)
    assert breaker.state(1.0) == "open"


@given(st.lists(st.booleans(), max_size=60))
def test_closed_means_fewer_failures_than_the_threshold_among_the_last_answers(outcomes: list[bool]) -> None:
    breaker = Breaker(POLICY)
    for ok in outcomes:
        breaker.record(ok, now=0.0)
        if breaker.state(0.0) != "closed":
            return
    assert sum(1 for ok in outcomes[-POLICY.window:] if not ok) < POLICY.failures


@pytest.mark.parametrize("bad", [dict(failures=0), dict(failures=30, window=20), dict(cooldown_s=0), dict(max_cooldown_s=1.0)])
def test_a_policy_that_cannot_work_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(**bad)
