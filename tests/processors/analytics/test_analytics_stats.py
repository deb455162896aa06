"""The two-proportion z-test, its interval, the power calculation and the verdict's words."""
from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, strategies as st

from processors.analytics.stats import MIN_EVENTS, compare, sample_size

counts = st.integers(min_value=1, max_value=5000).flatmap(lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n)))


def test_a_known_case_matches_the_textbook_figures() -> None:
    # 120/1000 vs 160/1000: pooled p = 0.14, z = 0.04 / sqrt(0.14 * 0.86 * 0.002) = 2.578, two-sided p = 0.00995.
    c = compare("click rate", "deliveries", "A", 120, 1000, "B", 160, 1000)
    assert c.z == pytest.approx(2.578, abs=1e-3) and c.p_value == pytest.approx(0.00995, abs=1e-5)
    se = math.sqrt(0.12 * 0.88 / 1000 + 0.16 * 0.84 / 1000)
    assert (c.ci_low, c.ci_high) == (pytest.approx(0.04 - 1.959964 * se), pytest.approx(0.04 + 1.959964 * se))
    assert c.significant
    assert c.verdict() == "B arm: +4.0 pts click rate vs A, significant at 95 % (p = 0.00995)"


def test_a_small_test_says_how_many_more_deliveries_it_needs() -> None:
    c = compare("click rate", "deliveries", "A", 10, 100, "B", 14, 100)
    assert not c.significant
    needed = sample_size(0.10, 0.14)
    assert needed == c.needed_per_arm and needed > 100
    assert c.more_needed() == 2 * (needed - 100)
    assert c.verdict().startswith(f"not enough data yet: {c.more_needed():,} more deliveries needed (B arm: +4.0 pts click rate vs A")


def test_the_leader_is_named_whichever_side_it_is_on() -> None:
    c = compare("delivery rate", "sent messages", "A", 900, 1000, "B", 700, 1000)
    assert c.significant and c.verdict().startswith("A arm: +20.0 pts delivery rate vs B, significant at 95 %")


def test_an_empty_arm_and_too_few_events_are_not_enough_data() -> None:
    assert compare("click rate", "deliveries", "A", 0, 0, "B", 3, 10).verdict() == "not enough data yet: no deliveries in arm A"
    few = compare("click rate", "deliveries", "A", 0, 100_000, "B", MIN_EVENTS - 1, 100_000)
    assert not few.enough_events and not few.significant
    assert few.verdict().startswith("not enough data yet")


def test_equal_rates_have_nothing_to_detect() -> None:
    c = compare("read rate", "deliveries", "A", 50, 100, "B", 50, 100)
    assert c.needed_per_arm is None and c.more_needed() == 0
    assert c.verdict() == "no difference in read rate between A and B (equal rates)"


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        compare("click rate", "deliveries", "A", 5, 4, "B", 1, 2)


@given(counts, counts)
def test_the_interval_holds_the_difference_and_swapping_arms_mirrors_everything(a: tuple[int, int], b: tuple[int, int]) -> None:
    ab = compare("click rate", "deliveries", "A", *a, "B", *b)
    ba = compare("click rate", "deliveries", "B", *b, "A", *a)
    assert ab.ci_low <= ab.difference <= ab.ci_high
    assert 0.0 <= ab.p_value <= 1.0
    assert ba.difference == pytest.approx(-ab.difference) and ba.p_value == pytest.approx(ab.p_value)
    assert ab.significant == ba.significant


@given(st.floats(min_value=0.02, max_value=0.9), st.floats(min_value=0.01, max_value=0.3))
def test_at_the_size_the_power_calculation_gives_the_observed_gap_is_significant(rate: float, gap: float) -> None:
    other = rate + gap
    assume(other < 0.98)
    n = sample_size(rate, other)
    assert n is not None and n >= 1
    c = compare("click rate", "deliveries", "A", round(rate * n), n, "B", round(other * n), n)
    assume(c.enough_events)
    # At 80 % power the expected z is about 1.96 + 0.84: rounding the counts to whole messages keeps it past 1.96.
    assert c.p_value < 0.05
    assert sample_size(rate, other + 0.01 if other + 0.01 < 1 else other) <= n
