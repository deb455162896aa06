"""Quiet hours as data: country windows, closed days, public holidays, DST, several zones, and the rules file's errors."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st
from phonenumbers import PhoneNumberType

from processors.consent import quiet_hours
from processors.rules import zones
from processors.rules.numbers import Refusal, examine
from processors.consent.quiet_hours import QuietHours, QuietHoursError, Rule, is_allowed, load, next_allowed

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
RULES = quiet_hours.bundled()


def zones_of(e164: str) -> tuple[str, ...]:
    found = examine(e164, None)
    assert not isinstance(found, Refusal)
    return found.zones


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


@pytest.mark.parametrize(("local", "opening"), [
    ((2026, 11, 23, 10, 0), (2026, 11, 23, 10, 0)),      # Monday morning: now
    ((2026, 11, 23, 8, 0), (2026, 11, 23, 8, 0)),        # the window's first instant is in
    ((2026, 11, 23, 7, 59), (2026, 11, 23, 8, 0)),       # before it: the same morning
    ((2026, 11, 23, 20, 0), (2026, 11, 24, 8, 0)),       # the end is out: next morning
    ((2026, 11, 21, 20, 30), (2026, 11, 23, 8, 0)),      # Saturday evening: not Sunday, Monday
    ((2026, 11, 22, 12, 0), (2026, 11, 23, 8, 0)),       # Sunday noon
    ((2026, 7, 14, 9, 0), (2026, 7, 15, 8, 0)),          # Bastille Day (a Tuesday)
    ((2026, 12, 24, 20, 30), (2026, 12, 26, 8, 0)),      # Christmas Eve evening: Christmas is a holiday
    ((2026, 5, 23, 21, 0), (2026, 5, 26, 8, 0)),         # Saturday before Pentecost: Sunday, then Whit Monday
    ((2026, 3, 28, 22, 0), (2026, 3, 30, 8, 0)),         # DST starts on the Sunday: Monday 08:00 is 06:00 UTC
])
def test_france(local: tuple[int, ...], opening: tuple[int, ...]) -> None:
    assert next_allowed(utc(at(PARIS, *local)), "FR", "Europe/Paris") == utc(at(PARIS, *opening))


def test_the_answer_is_in_utc_and_needs_an_aware_instant() -> None:
    assert next_allowed(at(PARIS, 2026, 3, 28, 22, 0), "FR", "Europe/Paris") == datetime(2026, 3, 30, 6, 0, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_allowed(datetime(2026, 3, 28, 22, 0), "FR", "Europe/Paris")


@pytest.mark.parametrize(("local", "opening"), [
    ((2026, 11, 22, 7, 0), (2026, 11, 22, 8, 0)),        # Sundays are fine in the US
    ((2026, 11, 26, 12, 0), (2026, 11, 26, 12, 0)),      # so is Thanksgiving
    ((2026, 11, 23, 21, 0), (2026, 11, 24, 8, 0)),
    ((2026, 3, 8, 1, 30), (2026, 3, 8, 8, 0)),           # the night DST starts
])
def test_united_states(local: tuple[int, ...], opening: tuple[int, ...]) -> None:
    assert next_allowed(utc(at(NEW_YORK, *local)), "US", "America/New_York") == utc(at(NEW_YORK, *opening))


def test_several_zones_must_all_be_open() -> None:
    zones = ("America/New_York", "America/Los_Angeles")
    # 08:30 in New York is 05:30 in Los Angeles: wait for 08:00 there, 11:00 in New York.
    assert next_allowed(utc(at(NEW_YORK, 2026, 11, 23, 8, 30)), "US", zones) == utc(at(NEW_YORK, 2026, 11, 23, 11, 0))
    # 19:00 in Los Angeles is 22:00 in New York: the next morning, 11:00 in New York again.
    assert next_allowed(utc(at(NEW_YORK, 2026, 11, 23, 22, 0)), "US", zones) == utc(at(NEW_YORK, 2026, 11, 24, 11, 0))
    assert is_allowed(utc(at(NEW_YORK, 2026, 11, 23, 20, 59)), "US", zones)  # 17:59 in Los Angeles: open in both
    assert not is_allowed(utc(at(NEW_YORK, 2026, 11, 23, 21, 0)), "US", zones)


def test_a_country_without_a_rule_gets_the_default() -> None:
    kyiv = ZoneInfo("Europe/Kyiv")
    assert RULES.rule("UA") == RULES.default
    assert next_allowed(utc(at(kyiv, 2026, 11, 22, 21, 30)), "UA", "Europe/Kyiv") == utc(at(kyiv, 2026, 11, 23, 8, 0))


def test_zones_the_request_gives_win_then_the_country_then_the_number() -> None:
    rules = QuietHours(Rule(time(8), time(21)), {"RU": Rule(time(9), time(20), time_zone="Europe/Moscow")})
    ru = zones_of("+79123456789")
    assert len(ru) > 1
    assert rules.zones("RU", ru, "Asia/Vladivostok") == ("Asia/Vladivostok",)
    assert rules.zones("RU", ru) == ("Europe/Moscow",)
    assert rules.zones("US", ("America/Chicago",)) == ("America/Chicago",)


def test_number_zones_are_narrowed_to_the_region_own() -> None:
    # phonenumbers cannot place this Antigua mobile and answers every zone of +1, Guam to Samoa.
    antigua = zones_of(phonenumbers.format_number(phonenumbers.example_number_for_type("AG", PhoneNumberType.MOBILE),
                                                    phonenumbers.PhoneNumberFormat.E164))
    assert len(antigua) > 20
    assert RULES.zones("AG", antigua) == ("America/Antigua",)
    # The UK's Crown Dependencies have zones of their own: a UK mobile is judged in London's.
    assert RULES.zones("GB", zones_of("+447400123456")) == ("Europe/London",)
    assert RULES.zones("FR", ()) == ("Europe/Paris",)


def _example_mobiles() -> list[tuple[str, str]]:
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        if number is not None:
            found.append((region, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)))
    return found


EXAMPLES = _example_mobiles()


def test_every_country_opens_within_days() -> None:
    """No region's candidate zones are so far apart that they share no allowed hour."""
    now = datetime(2026, 12, 24, 23, 0, tzinfo=timezone.utc)
    for region, e164 in EXAMPLES:
        zones = RULES.zones(region, zones_of(e164))
        opening = next_allowed(now, region, zones)
        assert now <= opening < now + timedelta(days=4), region
        assert is_allowed(opening, region, zones), region


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2029, 12, 31), timezones=st.just(timezone.utc)),
       st.sampled_from(EXAMPLES), st.floats(0, 1, exclude_max=True))
def test_next_allowed_is_the_earliest_allowed_instant(now: datetime, example: tuple[str, str], fraction: float) -> None:
    region, e164 = example
    zones = RULES.zones(region, zones_of(e164))
    opening = next_allowed(now, region, zones)
    assert opening >= now and is_allowed(opening, region, zones)
    assert next_allowed(opening, region, zones) == opening
    assert is_allowed(now, region, zones) == (opening == now)
    between = now + (opening - now) * fraction
    if between < opening:
        assert not is_allowed(between, region, zones)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "quiet_hours.toml"
    path.write_text(text)
    return path


def test_a_rules_file_with_a_zone_per_country(tmp_path: Path) -> None:
    rules = load(write(tmp_path, '[default]\nstart = "09:00"\nend = "18:30"\n\n'
                                 '[countries.ru]\nstart = "10:00"\nend = "19:00"\ntime_zone = "Europe/Moscow"\n'
                                 'closed_days = ["Saturday", "sunday"]\n'))
    assert rules.default == Rule(time(9), time(18, 30))
    assert rules.rule("RU") == Rule(time(10), time(19), frozenset({5, 6}), False, "Europe/Moscow")
    moscow = ZoneInfo("Europe/Moscow")
    assert next_allowed(utc(at(moscow, 2026, 11, 21, 12, 0)), "RU", rules.zones("RU", ()), rules) == utc(at(moscow, 2026, 11, 23, 10, 0))


@pytest.mark.parametrize(("text", "message"), [
    ('[countries.FR]\nstart = "08:00"\nend = "20:00"\n', "a \\[default\\] rule is required"),
    ('[default]\nstart = "8h"\nend = "20:00"\n', "start must be a local time"),
    ('[default]\nend = "20:00"\n', "start must be a local time"),
    ('[default]\nstart = "20:00"\nend = "08:00"\n', "must be before end"),
    ('[default]\nstart = "08:00"\nend = "20:00"\nclosed_days = ["sun"]\n', "are not weekdays"),
    ('[default]\nstart = "08:00"\nend = "20:00"\npublic_holidays = true\n', "no public holidays for the default rule"),
    ('[default]\nstart = "08:00"\nend = "20:00"\n[countries.XX]\nstart = "08:00"\nend = "20:00"\npublic_holidays = true\n',
     "no public holidays for XX"),
    ('[default]\nstart = "08:00"\nend = "20:00"\ntime_zone = "Mars/Olympus"\n', "unknown time zone"),
    ('[default]\nstart = "08:00"\nend = "20:00"\nopen = true\n', "unknown keys \\['open'\\]"),
    ('[default\n', "cannot read quiet hours"),
])
def test_a_bad_rules_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(QuietHoursError, match=message):
        load(write(tmp_path, text))


def test_a_missing_rules_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QuietHoursError, match="cannot read quiet hours from"):
        load(tmp_path / "absent.toml")


def test_zones_that_never_share_an_hour_are_an_error() -> None:
    rules = QuietHours(Rule(time(8), time(10)))
    with pytest.raises(QuietHoursError, match="no instant"):
        next_allowed(datetime(2026, 1, 1, tzinfo=timezone.utc), "ZZ", ("Europe/Paris", "Asia/Tokyo"), rules)


@pytest.mark.parametrize("name", ["Europe/Paris", "America/Chicago", "UTC", "Etc/UTC", "Etc/GMT+5", "US/Eastern"])
def test_iana_zones_and_their_aliases_are_valid(name: str) -> None:
    assert zones.valid_zone(name)


@pytest.mark.parametrize("name", ["Europe", "Etc", "America/Argentina", "localtime", "posixrules", "Factory", "right/UTC",
                                  "posix/Europe/Paris", "Europe/Atlantis", "", "../etc/passwd", "/Europe/Paris", "europe/paris"])
def test_folders_and_files_that_are_no_zone_are_invalid(name: str) -> None:
    assert not zones.valid_zone(name)
