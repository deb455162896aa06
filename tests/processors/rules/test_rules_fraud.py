"""SMS pumping detection and the per-key country allow-list, without a broker (processors/rules/fraud.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.rules.fraud import (FraudConfigError, PumpingDetector, Thresholds, country_refusal, load_thresholds, prefix_of)

PREMIUM = "+88216"  # an international premium-rate-looking range: every number below shares its 7-digit prefix
T0 = 1_800_000_000.0


def numbers(prefix: str, count: int, start: int = 0) -> list[str]:
    return [f"{prefix}{start + i:06d}" for i in range(count)]


def burst(detector: PumpingDetector, targets: list[str], country: str | None, start: float, spacing: float) -> list[bool]:
    """Whether each message of a run was suspected."""
    return [detector.judge(n, country, start + i * spacing) is not None for i, n in enumerate(targets)]


def test_the_bundled_file_holds_the_defaults() -> None:
    assert load_thresholds() == Thresholds()


def test_a_thresholds_file_with_an_unknown_or_bad_key_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "fraud.toml"
    bad.write_text("surge = 0.5\nwindow = 3\n")
    with pytest.raises(FraudConfigError, match="surge") as caught:
        load_thresholds(bad)
    assert "window" in str(caught.value)
    with pytest.raises(FraudConfigError, match="cannot read"):
        load_thresholds(tmp_path / "missing.toml")


def test_prefix_is_the_plus_and_the_first_digits() -> None:
    assert prefix_of("+33612345678", 7) == "+3361234"
    assert prefix_of("+33612345678", 5) == "+33612"


def test_a_burst_to_one_prefix_is_suppressed_past_its_floor() -> None:
    detector = PumpingDetector(Thresholds(prefix_floor=20, country_floor=10_000))
    suspected = burst(detector, numbers(PREMIUM + "0", 100), "ZZ", T0, 0.01)
    assert suspected[:20] == [False] * 20
    assert all(suspected[20:])


def test_normal_traffic_spread_over_prefixes_passes() -> None:
    detector = PumpingDetector(Thresholds())
    targets = [f"+336{i:02d}123456" for i in range(100)] * 3  # 300 OTPs over 100 ranges within 30 s
    assert not any(burst(detector, targets, "FR", T0, 0.1))


def test_a_prefix_that_grows_slowly_is_learned_not_suppressed() -> None:
    detector = PumpingDetector(Thresholds(prefix_floor=10, window_s=60, half_life_s=600, country_floor=100_000))
    t, suspected = T0, 0
    for rate in (5, 8, 12, 18, 27, 40):  # messages per minute, each held for half an hour
        for i in range(rate * 30):
            suspected += detector.judge(f"+4470012{i % 10_000:04d}", "GB", t) is not None
            t += 60 / rate
    assert suspected == 0
    assert detector.prefix_limit("+4470012", t)[0] > 40


def test_a_surge_over_the_learned_baseline_is_suppressed() -> None:
    detector = PumpingDetector(Thresholds(prefix_floor=30, half_life_s=600, surge=3, country_floor=100_000))
    t = T0
    for i in range(600):  # 20 a minute for half an hour
        assert detector.judge(f"+4670012{i:04d}", "SE", t) is None
        t += 3
    assert 45 <= detector.prefix_limit("+4670012", t)[0] <= 60
    suspected = burst(detector, numbers("+4670012", 200, 1000), "SE", t, 0.05)
    assert 160 <= sum(suspected) <= 180


def test_poor_otp_conversion_lowers_the_prefix_limit() -> None:
    th = Thresholds(prefix_floor=40, conversion_min_sends=20, conversion_floor=0.5, poor_conversion_factor=0.25, country_floor=100_000)
    converting, silent = PumpingDetector(th), PumpingDetector(th)
    for detector, converts in ((converting, True), (silent, False)):
        for i, n in enumerate(numbers("+3361234", 30)):
            detector.judge(n, "FR", T0 + i * 30)
            if converts:
                detector.conversion(n, T0 + i * 30 + 5)
    later = T0 + 3600
    assert converting.prefix_limit("+3361234", later) == (40, 1.0)
    assert silent.prefix_limit("+3361234", later) == (40, None)  # the caller reports no conversions at all: no ratio
    silent.conversion("+46701234567", later - 10)  # it does, for another range
    limit, ratio = silent.prefix_limit("+3361234", later)
    assert (limit, ratio) == (10, 0.0)
    suspected = burst(silent, numbers("+3361234", 15, 100), "FR", later, 0.1)
    assert suspected == [False] * 10 + [True] * 5
    assert "OTP conversion 0%" in str(silent.judge("+33612349999", "FR", later + 2))


def test_a_burst_to_one_country_over_many_prefixes_is_suppressed() -> None:
    detector = PumpingDetector(Thresholds(prefix_floor=1000, country_floor=50))
    targets = [f"+88216{i:03d}{i:04d}" for i in range(80)]
    suspected = burst(detector, targets, None, T0, 0.01)
    assert sum(suspected) == 30
    assert "to none within 60 s" in str(detector.judge("+882169999999", None, T0 + 1))


def test_state_stays_within_max_keys() -> None:
    detector = PumpingDetector(Thresholds(max_keys=50))
    for i in range(500):
        detector.judge(f"+1{i:03d}5550100", "US", T0 + i)
    assert len(detector._prefixes) <= 50


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=600.0), min_size=1, max_size=300), st.integers(min_value=1, max_value=40))
def test_nothing_is_suppressed_while_every_window_holds_at_most_the_floor(offsets: list[float], floor: int) -> None:
    """Property: a prefix whose sends never exceed the floor within any window is never suspected, whatever their timing."""
    th = Thresholds(prefix_floor=floor, country_floor=floor, window_s=60)
    times = sorted(T0 + o for o in offsets)
    # keep only sends that leave at most `floor` within any 70 s span (the window plus a bucket's slack)
    kept: list[float] = []
    for t in times:
        if sum(1 for k in kept if k > t - 70) < floor:
            kept.append(t)
    detector = PumpingDetector(th)
    assert not any(detector.judge(f"+3361234{i:04d}", "FR", t) for i, t in enumerate(kept))


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=200), st.floats(min_value=1.0, max_value=10.0))
def test_a_burst_is_admitted_at_most_up_to_its_limit(floor: int, size: int, surge: float) -> None:
    """Property: of a burst inside one window on a fresh detector, exactly the floor passes."""
    detector = PumpingDetector(Thresholds(prefix_floor=floor, country_floor=100_000, surge=surge))
    admitted = size - sum(burst(detector, numbers("+8821600", size), "ZZ", T0, 0.001))
    assert admitted == min(size, floor)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=50, max_size=200))
def test_conversions_never_raise_a_limit(converted: list[bool]) -> None:
    """Property: reported conversions can only keep or lower strictness relative to no information, never exceed the base limit."""
    th = Thresholds(prefix_floor=20, conversion_min_sends=50)
    detector = PumpingDetector(th)
    for i, done in enumerate(converted):
        detector.judge(f"+3361234{i:04d}", "FR", T0 + i * 60)
        if done:
            detector.conversion(f"+3361234{i:04d}", T0 + i * 60 + 1)
    limit, ratio = detector.prefix_limit("+3361234", T0 + len(converted) * 60)
    unlimited = max(th.prefix_floor, th.surge * detector._prefixes.baseline("+3361234"))
    assert limit <= unlimited
    assert ratio is None or 0.0 <= ratio <= 1.0


@pytest.mark.parametrize(("allowed", "region", "refused"), [
    (None, "FR", False), ([], "US", False), (["FR", "SE"], "FR", False), (["FR", "SE"], "US", True), (["FR"], None, True),
])
def test_country_allow_list(allowed: list[str] | None, region: str | None, refused: bool) -> None:
    found = country_refusal(allowed, region)
    assert (found is not None) == refused
    if found is not None:
        assert str(region or "no country") in found and "FR" in found


def test_parse_countries_upper_cases_sorts_and_names_unknown_codes() -> None:
    from processors.rules.fraud import parse_countries

    assert parse_countries(" se,FR,fr ") == ("FR", "SE")
    with pytest.raises(ValueError, match="unknown region codes QQ, XX"):
        parse_countries("FR,XX,QQ")
    with pytest.raises(ValueError, match="at least one"):
        parse_countries(",")
