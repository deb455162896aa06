"""Country rules as data: coverage of the bundled files, states, per-weekday windows, limits, the files' errors, and zones."""
from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings, strategies as st

from processors.consent import quiet_hours
from processors.rules import zones
from processors.consent.countries import SENDER_TYPES, Limit, bundled_countries, load_countries, subdivision
from processors.consent.frequency import Cap, FrequencyCaps, RecentSends
from processors.consent.logic import Rules, check, consent_key
from processors.consent.quiet_hours import QuietHoursError, load, next_allowed

EU_EEA = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
NAMED = "GB CH US CA MX BR AR IN ID AU NZ JP KR SG ZA AE SA TR".split()
STRICTER_STATES = "FL OK WA MD CT".split()
RULES = quiet_hours.bundled()
COUNTRIES = bundled_countries()
GROUP = "promotions"


def utc(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def test_the_bundled_rules_cover_at_least_50_countries_with_every_one_named() -> None:
    countries = {region for region in COUNTRIES.countries if "-" not in region}
    assert len(countries) >= 50
    assert set(EU_EEA + NAMED) <= countries
    assert {f"US-{state}" for state in STRICTER_STATES} <= set(COUNTRIES.countries)
    assert set(COUNTRIES.countries) == set(RULES.countries)


@pytest.mark.parametrize("region", sorted(COUNTRIES.countries))
def test_every_rule_cites_a_source_and_a_date_and_names_every_sender_type(region: str) -> None:
    country = COUNTRIES.get(region)
    assert country.source and country.checked == date(2026, 12, 7)
    assert set(country.senders) == set(SENDER_TYPES)
    assert country.opt_out_footer in {"required", "recommended", "none"}
    rule = RULES.rule(region)
    if rule.public_holidays:  # the holidays package knows the country (and the state) named
        country_code, _, state = region.partition("-")
        assert state in ("", *holidays.list_supported_countries()[country_code])


def test_a_state_inherits_its_country_for_what_it_leaves_out() -> None:
    florida = COUNTRIES.get("US-FL")
    assert florida.senders == COUNTRIES.get("US").senders and florida.opt_out_footer == "required"
    assert florida.limit == Limit(3, timedelta(hours=24))
    assert COUNTRIES.get("US").limit is None and COUNTRIES.get("US-NY") == COUNTRIES.get("US")
    assert not COUNTRIES.get("US").sender_allowed("alphanumeric") and COUNTRIES.get("DE").sender_allowed("alphanumeric")
    assert COUNTRIES.get("KP").source.startswith("no rule of its own")


@pytest.mark.parametrize(("e164", "region"), [("+13055550123", "US-FL"), ("+12065550123", "US-WA"), ("+12035550123", "US-CT"),
                                              ("+14155550123", "US"), ("+12125550123", "US")])
def test_the_area_code_picks_the_state(e164: str, region: str) -> None:
    assert subdivision(e164, "US", RULES.subdivisions("US")) == region
    assert subdivision(e164, "US", frozenset()) == "US"


@pytest.mark.parametrize(("region", "zone", "local", "opening"), [
    ("US-FL", "America/New_York", (2026, 11, 23, 20, 0), (2026, 11, 24, 8, 0)),   # 20:00: closed in Florida, open under TCPA
    ("US-CT", "America/New_York", (2026, 11, 23, 8, 30), (2026, 11, 23, 9, 0)),
    ("US-TX", "America/Chicago", (2026, 11, 22, 10, 0), (2026, 11, 22, 12, 0)),   # Sunday: from noon
    ("US-TX", "America/Chicago", (2026, 11, 23, 10, 0), (2026, 11, 23, 10, 0)),   # Monday: from 09:00
    ("US-AL", "America/Chicago", (2026, 12, 24, 20, 30), (2026, 12, 26, 8, 0)),   # Christmas Eve evening, then Christmas
    ("US-AL", "America/Chicago", (2026, 12, 26, 20, 30), (2026, 12, 28, 8, 0)),   # Saturday evening, then Sunday
    ("ZA", "Africa/Johannesburg", (2026, 11, 21, 13, 0), (2026, 11, 23, 8, 0)),   # Saturday 13:00, then Sunday
    ("ZA", "Africa/Johannesburg", (2026, 11, 21, 8, 30), (2026, 11, 21, 9, 0)),   # Saturday from 09:00
    ("ZA", "Africa/Johannesburg", (2026, 12, 16, 10, 0), (2026, 12, 17, 8, 0)),   # Day of Reconciliation
    ("KR", "Asia/Seoul", (2026, 11, 23, 21, 0), (2026, 11, 24, 8, 0)),
    ("DE", "Europe/Berlin", (2026, 11, 23, 20, 0), (2026, 11, 24, 8, 0)),
])
def test_country_and_state_windows(region: str, zone: str, local: tuple[int, ...], opening: tuple[int, ...]) -> None:
    assert next_allowed(utc(zone, *local), region, zone) == utc(zone, *opening)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "countries.toml"
    path.write_text('[default]\nstart = "08:00"\nend = "21:00"\n\n' + text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ('[countries.XX]\nstart = "08:00"\nend = "20:00"\nsource = "x"\nsenders = { pigeon = "yes" }\n', "senders.pigeon"),
    ('[countries.XX]\nstart = "08:00"\nend = "20:00"\nsource = "x"\nsenders = { long_code = "maybe" }\n', "senders.long_code"),
    ('[countries.XX]\nstart = "08:00"\nend = "20:00"\nsource = "x"\nopt_out_footer = "yes"\n', "opt_out_footer"),
    ('[countries.XX]\nstart = "08:00"\nend = "20:00"\nsource = "x"\nmarketing_limit = { max_messages = 3 }\n', "marketing_limit"),
    ('[countries.XX]\nstart = "08:00"\nend = "20:00"\nsource = "x"\nmarketing_limit = { max_messages = 0, window_hours = 24 }\n',
     "at least 1"),
    ('[countries.XX]\nstart = "08:00"\nend = "20:00"\nsource = "x"\nchecked = "yesterday"\n', "checked must be a date"),
])
def test_a_bad_profile_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(QuietHoursError, match=message):
        load_countries(write(tmp_path, text))


@pytest.mark.parametrize(("text", "message"), [
    ('[countries.XX]\nstart = "08:00"\nend = "20:00"\nwindows = { funday = ["09:00", "10:00"] }\n', "windows.funday"),
    ('[countries.XX]\nstart = "08:00"\nend = "20:00"\nwindows = { sunday = ["12:00", "10:00"] }\n', "must be before end"),
    ('[countries.US-ZZ]\nstart = "08:00"\nend = "20:00"\npublic_holidays = true\n', "no public holidays for US-ZZ"),
])
def test_a_bad_window_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(QuietHoursError, match=message):
        load(write(tmp_path, text))


def test_a_file_of_hours_only_still_loads_its_rules_unverified(tmp_path: Path) -> None:
    rules = load_countries(write(tmp_path, '[countries.FR]\nstart = "09:00"\nend = "19:00"\n[countries.US-FL]\nstart = "09:00"\n'
                                           'end = "19:00"\n'))
    assert rules.get("FR").source == rules.get("US-FL").source == "unverified: the rules file gives no source"
    assert rules.get("FR").limit is None and rules.get("FR").sender_allowed("alphanumeric")


def test_a_folder_of_files_is_read_and_a_country_may_be_defined_once(tmp_path: Path) -> None:
    write(tmp_path, '[countries.FR]\nstart = "09:00"\nend = "19:00"\nsource = "x"\n')
    (tmp_path / "more.toml").write_text('[countries.DE]\nstart = "10:00"\nend = "18:00"\nsource = "y"\n')
    assert load(tmp_path).rule("DE").start == time(10) and load_countries(tmp_path).get("FR").source == "x"
    (tmp_path / "again.toml").write_text('[countries.fr]\nstart = "10:00"\nend = "18:00"\nsource = "y"\n')
    with pytest.raises(QuietHoursError, match="defined twice"):
        load(tmp_path)


def marketing(message_id: str, e164: str, now: datetime, time_zone: str | None = None) -> dict[str, Any]:
    return {"context": {"message_id": message_id, "lane": "MARKETING", "subscription_group": GROUP, "requested_at": now},
            "recipient": e164, "template_id": "promo", "channel_policy": "SMS", "time_zone": time_zone}


def opted_in(e164: str) -> dict[str, dict[str, Any]]:
    return {consent_key(e164, GROUP): {"e164": e164, "subscription_group": GROUP, "status": "OPTED_IN", "basis": "MARKETING",
                                      "source": "form", "evidence": None, "changed_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}}


def test_a_florida_limit_defers_the_fourth_message_to_when_the_first_leaves_the_window() -> None:
    miami = "+13055550123"
    rules = Rules(caps=FrequencyCaps(Cap(0, timedelta(days=7))))  # no group cap: the state's limit alone
    sends = RecentSends({})
    times = [utc("America/New_York", 2026, 11, 23, h, 0) for h in (9, 10, 11, 12)]
    for i, now in enumerate(times[:3]):
        outputs = check(marketing(f"m-{i}", miami, now), opted_in(miami), now, rules=rules, sends=sends, key=miami)
        assert [o.topic for o in outputs] == ["consent-checked", "frequency"]
        sends.remember(outputs)
    outputs = check(marketing("m-3", miami, times[3]), opted_in(miami), times[3], rules=rules, sends=sends, key=miami)
    assert [o.topic for o in outputs] == ["receipt", "send-requested"]
    notice, later = outputs
    assert (notice.value["status"], notice.value["reason"]) == ("DEFERRED", "country_limit")
    assert "US-FL limit" in notice.value["detail"]
    assert later.deliver_at == times[0] + timedelta(hours=24)
    released = check(later.value, opted_in(miami), later.deliver_at, rules=rules, sends=sends, key=miami)
    assert [o.topic for o in released] == ["consent-checked", "frequency"]
    assert [s["message_id"] for s in released[1].value["sends"]] == ["m-1", "m-2", "m-3"]


def test_a_limit_release_falls_in_the_allowed_hours() -> None:
    """24 hours after Saturday 19:57 EST is Sunday 20:57 EDT (DST starts): past 20:00, so Monday 08:00."""
    miami = "+13055550123"
    rules = Rules(caps=FrequencyCaps(Cap(0, timedelta(days=7))))
    sends = RecentSends({})
    for i, minute in enumerate((57, 58, 59)):
        now = utc("America/New_York", 2026, 3, 7, 19, minute)
        sends.remember(check(marketing(f"m-{i}", miami, now), opted_in(miami), now, rules=rules, sends=sends, key=miami))
    now = utc("America/New_York", 2026, 3, 8, 10, 0)
    outputs = check(marketing("m-3", miami, now), opted_in(miami), now, rules=rules, sends=sends, key=miami)
    assert outputs[0].value["reason"] == "country_limit"
    assert outputs[1].deliver_at == utc("America/New_York", 2026, 3, 9, 8, 0)


@pytest.mark.parametrize("zone", ["Europe", "America", "Etc", "US", "localtime", "posixrules", "right/UTC", "posix/UTC", "Factory"])
def test_a_folder_or_special_file_of_the_tz_database_is_rejected_not_a_crash(zone: str) -> None:
    e164 = "+33612345678"
    now = utc("Europe/Paris", 2026, 11, 23, 10, 0)
    outputs = check(marketing("m-1", e164, now, zone), opted_in(e164), now)
    assert len(outputs) == 1
    assert (outputs[0].value["status"], outputs[0].value["reason"]) == ("REJECTED", "invalid_time_zone")


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"])
def test_a_canonical_zone_is_judged_in(zone: str) -> None:
    e164 = "+33612345678"
    now = utc("Europe/Paris", 2026, 11, 23, 3, 0)
    outputs = check(marketing("m-1", e164, now, zone), opted_in(e164), now)
    assert outputs[0].topic in {"consent-checked", "receipt"} and outputs[0].value.get("reason") != "invalid_time_zone"
    if outputs[0].topic == "receipt":
        assert quiet_hours.is_allowed(outputs[1].deliver_at, "FR", (zone,))


def _tz_folders() -> list[str]:
    """Every folder of the tz databases ZoneInfo reads (the system's and the tzdata package's), as a zone name would name it."""
    roots = [Path(p) for p in zoneinfo.TZPATH] + [Path(str(resources.files("tzdata.zoneinfo")))]
    return sorted({str(d.relative_to(root)) for root in roots if root.is_dir() for d in root.rglob("*") if d.is_dir()})


def test_no_folder_of_the_tz_database_is_a_zone() -> None:
    folders = _tz_folders()
    assert {"Europe", "America", "Etc", "US"} <= set(folders)
    assert not [name for name in folders if zones.valid_zone(name)]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.sampled_from(_tz_folders() + ["localtime", "posixrules", "right/UTC", "UTC", "Etc/UTC"]),
                 st.sampled_from(sorted(zones.known_zones()))))
def test_any_zone_text_is_judged_or_rejected_never_a_crash(zone: str) -> None:
    e164 = "+13055550123"
    now = utc("America/New_York", 2026, 11, 23, 3, 0)
    outputs = check(marketing("m-1", e164, now, zone), opted_in(e164), now)
    if zones.valid_zone(zone):
        assert outputs[0].value.get("reason") != "invalid_time_zone"
        ZoneInfo(zone)  # a valid name opens
    else:
        assert [(o.value["status"], o.value["reason"]) for o in outputs] == [("REJECTED", "invalid_time_zone")]
