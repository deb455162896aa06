"""Pacing without a broker: a sender's budget never lets more than its limit out in any window, and uses all of it."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.dispatch.pacing import Admission, BadPacingFile, Budget, Pacer, PacingLimits, budget_key, cost


def sender(sender_type: str = "LONG_CODE", rate: float = 50.0, sender_id: str = "+33757000101") -> dict:
    return {"sender_id": sender_id, "type": sender_type, "country": "FR", "segments_per_second": rate}


def drive(budget: Budget, sizes: list[int], delays: list[float], arrivals: list[float]) -> list[tuple[float, int]]:
    """Hand each message over as soon as the budget allows (after it arrived), late by its delay, as dispatch does:
    take at the ready time, restamp to when it really left."""
    sent = []
    clock = 0.0
    for size, delay, arrival in zip(sizes, delays, arrivals):
        clock = max(clock, arrival)
        ready = budget.ready_at(size, clock)
        assert ready >= clock
        budget.take(size, ready)
        handed = ready + delay
        budget.restamp(ready, handed)
        sent.append((handed, size))
        clock = handed
    return sent


def worst_window(sent: list[tuple[float, int]], span: float) -> int:
    """The most segments handed over in any half-open window [t, t + span) (the worst windows start at a send)."""
    return max(sum(n for t, n in sent if start <= t < start + span) for start, _ in sent)


@settings(max_examples=300, deadline=None)
@given(rate=st.sampled_from([1.0, 3.0, 5.0, 10.0, 30.0, 100.0, 2.5]),
       sizes=st.lists(st.integers(1, 3), min_size=1, max_size=120),
       seed=st.integers(0, 2**32 - 1))
def test_no_window_ever_holds_more_than_the_limit(rate: float, sizes: list[int], seed: int) -> None:
    rng = random.Random(seed)
    budget = Budget(rate)
    sizes = [min(n, int(rate)) for n in sizes]  # messages no longer than a window holds (longer ones: next test)
    delays = [rng.choice([0.0, 0.0, rng.uniform(0, 0.03)]) for _ in sizes]
    arrivals = sorted(rng.uniform(0, len(sizes) / rate * 1.5) for _ in sizes)
    sent = drive(budget, sizes, delays, arrivals)
    assert worst_window(sent, 1.0) <= rate


@settings(max_examples=100, deadline=None)
@given(rate=st.sampled_from([0.5, 0.2]), sizes=st.lists(st.just(1), min_size=1, max_size=30))
def test_below_one_per_second_a_segment_waits_its_whole_interval(rate: float, sizes: list[int]) -> None:
    sent = drive(Budget(rate), sizes, [0.0] * len(sizes), [0.0] * len(sizes))
    assert worst_window(sent, 1 / rate) <= 1


def test_a_message_longer_than_the_limit_leaves_alone_in_its_window() -> None:
    budget = Budget(1.0)
    sent = drive(budget, [1, 3, 1, 1], [0.0] * 4, [0.0] * 4)
    times = [t for t, _ in sent]
    assert times[1] >= times[0] + 1.0  # the long one waits until the short one's window is over
    assert times[2] >= times[1] + 3.0  # and the next waits for the three segments it spent
    assert worst_window(sent, 1.0) == 3


@pytest.mark.parametrize("rate", [1.0, 5.0, 30.0, 100.0])
def test_under_load_the_whole_limit_is_used(rate: float) -> None:
    rng = random.Random(7)
    count = int(rate * 60)
    sent = drive(Budget(rate), [1] * count, [rng.uniform(0, 0.002) for _ in range(count)], [0.0] * count)
    seconds = sent[-1][0] - sent[0][0]
    assert (count - 1) / seconds >= 0.98 * rate
    assert worst_window(sent, 1.0) <= rate


def test_an_idle_sender_does_not_burst_when_traffic_resumes() -> None:
    budget = Budget(10.0)
    drive(budget, [1], [0.0], [0.0])
    resumed = drive(budget, [1] * 5, [0.0] * 5, [100.0] * 5)
    gaps = [b[0] - a[0] for a, b in zip(resumed, resumed[1:])]
    assert all(gap == pytest.approx(0.1) for gap in gaps)


def test_the_bundled_limits_follow_the_carrier_classes() -> None:
    limits = PacingLimits.load()
    assert limits.rate(sender("LONG_CODE"), "SMS") == 1
    assert limits.rate(sender("TOLL_FREE"), "SMS") == 3
    assert limits.rate(sender("SHORT_CODE", 500), "SMS") == 100
    assert limits.rate(sender("ALPHANUMERIC", 10, "COURRIER"), "SMS") == 10  # the sender's own class is lower
    assert limits.rate(sender("SHORT_CODE", 500), "MMS") == 100
    assert limits.rate(sender("LONG_CODE", 1), "MMS") == 1


def test_a_sender_entry_overrides_its_type(tmp_path: Path) -> None:
    path = tmp_path / "pacing.json"
    path.write_text(json.dumps({"sender_types": {"SHORT_CODE": 100}, "senders": {"12345": 400, "_doc": "comment"}}))
    limits = PacingLimits.load(path)
    assert limits.rate(sender("SHORT_CODE", 1000, "12345"), "SMS") == 400
    assert limits.rate(sender("SHORT_CODE", 1000, "54321"), "SMS") == 100


@pytest.mark.parametrize("content", ['{"sender_types": {"LONG_CODE": 0}}', '{"senders": {"x": "fast"}}', "not json"])
def test_a_bad_pacing_file_is_one_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "pacing.json"
    path.write_text(content)
    with pytest.raises(BadPacingFile, match="pacing limits"):
        PacingLimits.load(path)


def test_cost_counts_segments_for_sms_and_one_for_mms_and_rcs() -> None:
    event = {"channel": "SMS", "sms": {"segments": 3}, "sender": sender()}
    assert cost(event) == 3
    assert cost({**event, "channel": "MMS"}) == 1
    assert cost({**event, "channel": "RCS"}) == 1
    assert budget_key(event) == "+33757000101|FR|SMS" != budget_key({**event, "channel": "MMS"})


def test_a_claimed_budget_waits_for_the_priority_message() -> None:
    pacer = Pacer(PacingLimits({"LONG_CODE": 1}))
    pacer.claim("k")
    assert pacer.ready_at("k", 10.0, 1, now=5.0, priority=True) == 5.0
    assert pacer.ready_at("k", 10.0, 1, now=5.0) > 5.0
    pacer.take("k", 10.0, 1, 5.0)
    pacer.release("k")
    assert pacer.ready_at("k", 10.0, 1, now=5.1) == pytest.approx(5.1)


def test_new_messages_queue_behind_the_deferred_ones() -> None:
    pacer = Pacer(PacingLimits({"LONG_CODE": 1}))
    first, second = pacer.defer_front("k", 2.0, [("m1", 1), ("m2", 1)], ready=10.0, now=0.0, lead_s=0.5)
    assert (first.slot, first.delay_s, second.slot) == (10.0, 9.5, 10.5)
    assert pacer.admit("k", "fresh", now=1.0) is Admission.BEHIND
    [fresh] = pacer.defer_back("k", 2.0, [("fresh", 1)], ready=1.0, now=1.0, lead_s=0.5)
    assert fresh.slot == 11.0  # behind m1 and m2
    assert pacer.admit("k", "m1", now=9.5) is Admission.GO
    assert pacer.admit("k", "m2", now=10.0) is Admission.GO and pacer.admit("k", "fresh", now=10.5) is Admission.GO
    assert pacer.admit("k", "later", now=10.6) is Admission.GO  # the backlog is through


def test_one_back_before_those_ahead_of_it_waits_again_in_its_place() -> None:
    pacer = Pacer(PacingLimits({"LONG_CODE": 1}))
    pacer.defer_front("k", 2.0, [("m1", 1), ("m2", 1), ("m3", 1)], ready=10.0, now=0.0, lead_s=0.5)
    assert pacer.admit("k", "m1", now=9.5) is Admission.GO
    # m1's budget turned out busier than planned: it goes out again, 2 s later, and the rest moves back with it
    [again] = pacer.defer_front("k", 2.0, [("m1", 1)], ready=12.0, now=9.5, lead_s=0.5)
    assert again.slot == 12.0
    assert pacer.admit("k", "m2", now=10.0) is Admission.KEEP
    waiting = pacer.defer_keep("k", "m2", now=10.0, lead_s=0.5)
    assert waiting.slot == 12.5 and waiting.delay_s == 2.0
    assert pacer.admit("k", "m1", now=11.5) is Admission.GO
    assert pacer.admit("k", "m2", now=12.0) is Admission.GO and pacer.admit("k", "m3", now=12.5) is Admission.GO


def test_a_backlog_that_never_comes_back_expires() -> None:
    pacer = Pacer(PacingLimits({"LONG_CODE": 1}), backlog_grace_s=30.0)
    pacer.defer_front("k", 1.0, [("lost", 1)], ready=5.0, now=0.0, lead_s=0.5)
    assert pacer.admit("k", "fresh", now=30.0) is Admission.BEHIND
    assert pacer.admit("k", "fresh", now=36.1) is Admission.GO
