"""When a message may go: quiet hours and send_at defer it (never drop it), validity that ends first expires it, caps suppress it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from common.config import Settings
from processors.consent.countries import Limit
from processors.consent.frequency import Cap, FrequencyCaps
from processors.consent.logic import Rules, check, consent_key
from processors.consent.stage import rules_from_settings
from processors.runtime.stage import Output, RecordMeta
from tests.processors.consent.conftest import consent_stage

PARIS = ZoneInfo("Europe/Paris")
MONDAY_3AM = datetime(2026, 11, 23, 3, 0, tzinfo=PARIS).astimezone(timezone.utc)
MONDAY_8AM = datetime(2026, 11, 23, 8, 0, tzinfo=PARIS).astimezone(timezone.utc)
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=PARIS).astimezone(timezone.utc)
FR, US = "+33612345678", "+12015550123"  # US: a New Jersey number, New York time
GROUP = "promotions"


def opted_in(*numbers: str, status: str = "OPTED_IN") -> dict[str, dict[str, Any]]:
    return {consent_key(n, GROUP): {"e164": n, "subscription_group": GROUP, "status": status, "basis": "MARKETING",
                                    "source": "form", "evidence": None, "changed_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}
            for n in numbers}


def meta(now: datetime, key: str = FR) -> RecordMeta:
    return RecordMeta(topic="send-requested", partition=0, offset=0, key=key, now=now)


@pytest.fixture
def marketing(request_event):
    def build(**overrides: Any) -> dict[str, Any]:
        return request_event(lane="MARKETING", subscription_group=GROUP, template_id="promo", **overrides)
    return build


def deferred(outputs: list[Output]) -> tuple[dict[str, Any], Output]:
    """The DEFERRED receipt's value and the delayed request."""
    assert [o.topic for o in outputs] == ["receipt", "send-requested"]
    notice, later = outputs
    assert (notice.value["status"], notice.value["terminal"]) == ("DEFERRED", False)
    assert later.deliver_at is not None
    return notice.value, later


def test_marketing_at_night_is_deferred_to_the_opening(marketing, assert_valid) -> None:
    event = marketing()
    outputs = consent_stage(opted_in(FR)).process(event, meta(MONDAY_3AM))
    for output in outputs:
        assert_valid(output)
    notice, later = deferred(outputs)
    assert notice["reason"] == "quiet_hours"
    assert notice["detail"] == "outside the allowed hours in Europe/Paris (FR rule); released at 2026-11-23T07:00:00+00:00"
    assert notice["occurred_at"] == MONDAY_3AM and notice["recipient"] == FR
    assert (later.key, later.value, later.deliver_at) == (FR, event, MONDAY_8AM)


def test_released_at_the_opening_it_passes(marketing) -> None:
    stage = consent_stage(opted_in(FR))
    _notice, later = deferred(stage.process(marketing(), meta(MONDAY_3AM)))
    assert [o.topic for o in stage.process(later.value, meta(later.deliver_at, later.key))] == ["consent-checked", "frequency"]


def test_an_opt_out_while_deferred_suppresses_it_at_release(marketing) -> None:
    consents = opted_in(FR)
    stage = consent_stage(consents)
    _notice, later = deferred(stage.process(marketing(), meta(MONDAY_3AM)))
    consents.update(opted_in(FR, status="OPTED_OUT"))
    (suppressed,) = stage.process(later.value, meta(later.deliver_at, later.key))
    assert (suppressed.value["status"], suppressed.value["reason"]) == ("SUPPRESSED", "opted_out")


def test_an_opt_out_is_not_deferred_but_suppressed_at_once(marketing) -> None:
    (suppressed,) = consent_stage(opted_in(FR, status="OPTED_OUT")).process(marketing(), meta(MONDAY_3AM))
    assert (suppressed.value["status"], suppressed.value["reason"], suppressed.value["terminal"]) == ("SUPPRESSED", "opted_out", True)


def test_transactional_messages_bypass_quiet_hours(request_event) -> None:
    (out,) = consent_stage({}).process(request_event(), meta(MONDAY_3AM))
    assert out.topic == "consent-checked" and out.deliver_at is None


def test_send_at_defers_any_lane(request_event) -> None:
    send_at = MONDAY_3AM + timedelta(minutes=20)
    notice, later = deferred(consent_stage({}).process(request_event(send_at=send_at), meta(MONDAY_3AM)))
    assert notice["reason"] == "scheduled_send"
    assert notice["detail"] == "send_at 2026-11-23T02:20:00+00:00; released at 2026-11-23T02:20:00+00:00"
    assert later.deliver_at == send_at


def test_a_marketing_send_at_in_quiet_hours_waits_for_the_opening(marketing) -> None:
    notice, later = deferred(consent_stage(opted_in(FR)).process(marketing(send_at=MONDAY_3AM + timedelta(hours=1)), meta(MONDAY_3AM)))
    assert notice["reason"] == "scheduled_send"
    assert "then outside the allowed hours in Europe/Paris" in notice["detail"]
    assert later.deliver_at == MONDAY_8AM


def test_a_send_at_already_past_goes_now(marketing) -> None:
    outputs = consent_stage(opted_in(FR)).process(marketing(send_at=MONDAY_10AM - timedelta(hours=1)), meta(MONDAY_10AM))
    assert [o.topic for o in outputs] == ["consent-checked", "frequency"]


def test_validity_ending_before_the_release_expires_it_at_once(marketing, assert_valid) -> None:
    # Requested at 10:00 UTC the day before, valid 20 h: ends at 06:00 UTC, before the 07:00 UTC opening.
    event = marketing(validity_seconds=20 * 3600)
    event["context"]["requested_at"] = MONDAY_8AM - timedelta(hours=21)
    (expired,) = consent_stage(opted_in(FR)).process(event, meta(MONDAY_3AM))
    assert_valid(expired)
    assert (expired.value["status"], expired.value["reason"], expired.value["terminal"]) == ("EXPIRED", "validity_ends_before_release", True)
    assert "2026-11-23T06:00:00+00:00" in expired.value["detail"] and "quiet_hours" in expired.value["detail"]


def test_validity_ending_exactly_at_the_release_expires_it_too(marketing) -> None:
    event = marketing(validity_seconds=3600)
    event["context"]["requested_at"] = MONDAY_8AM - timedelta(hours=1)
    (expired,) = consent_stage(opted_in(FR)).process(event, meta(MONDAY_3AM))
    assert expired.value["reason"] == "validity_ends_before_release"


def test_validity_covering_the_release_is_deferred_with_it(marketing) -> None:
    event = marketing(validity_seconds=6 * 3600)
    event["context"]["requested_at"] = MONDAY_3AM
    _notice, later = deferred(consent_stage(opted_in(FR)).process(event, meta(MONDAY_3AM)))
    (out, _counted) = consent_stage(opted_in(FR)).process(later.value, meta(later.deliver_at))
    assert out.value["expires_at"] == MONDAY_3AM + timedelta(hours=6)


def test_released_late_after_its_validity_it_expires(marketing) -> None:
    event = marketing(validity_seconds=6 * 3600)
    event["context"]["requested_at"] = MONDAY_3AM
    _notice, later = deferred(consent_stage(opted_in(FR)).process(event, meta(MONDAY_3AM)))
    (expired,) = consent_stage(opted_in(FR)).process(later.value, meta(MONDAY_3AM + timedelta(hours=6)))
    assert (expired.value["status"], expired.value["reason"]) == ("EXPIRED", "validity_elapsed")


def test_a_given_time_zone_is_the_one_judged_and_carried(marketing) -> None:
    # 14:00 in Paris is 08:00 in New York: a US number is open; said to be in Los Angeles (05:00), it waits.
    two_pm = datetime(2026, 11, 23, 14, 0, tzinfo=PARIS)
    out, _counted = consent_stage(opted_in(US)).process(marketing(recipient=US), meta(two_pm, US))
    assert out.value["recipient"]["time_zone"] == "America/New_York"
    notice, later = deferred(consent_stage(opted_in(US)).process(marketing(recipient=US, time_zone="America/Los_Angeles"), meta(two_pm, US)))
    assert "America/Los_Angeles (US rule)" in notice["detail"]
    assert later.deliver_at == datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    released, _counted = consent_stage(opted_in(US)).process(later.value, meta(later.deliver_at, US))
    assert released.value["recipient"]["time_zone"] == "America/Los_Angeles"


@pytest.mark.parametrize("zone", ["Europe/Atlantis", "Europe", "Etc", "localtime", "posixrules", "right/UTC", "posix/Europe/Paris"])
def test_an_unknown_time_zone_is_rejected(request_event, assert_valid, zone: str) -> None:
    """A tz folder (ZoneInfo raises IsADirectoryError for it) or a file of the tz folder that is no zone is a receipt, not a
    dead letter: a Kafka-direct request is answered as the intake would have answered it."""
    (rejected,) = consent_stage({}).process(request_event(time_zone=zone), meta(MONDAY_10AM))
    assert_valid(rejected)
    assert (rejected.value["status"], rejected.value["reason"], rejected.value["terminal"]) == ("REJECTED", "invalid_time_zone", True)


def test_quiet_hours_can_be_turned_off(marketing) -> None:
    stage = consent_stage(opted_in(FR), rules=Rules(quiet_hours=None))
    assert [o.topic for o in stage.process(marketing(), meta(MONDAY_3AM))] == ["consent-checked", "frequency"]


def test_a_marketing_message_keyed_otherwise_is_counted_on_its_e164_partition(marketing) -> None:
    event = marketing(recipient="06 12 34 56 78", default_region="FR")
    (rekeyed,) = consent_stage(opted_in(FR)).process(event, meta(MONDAY_10AM, key="06 12 34 56 78"))
    assert (rekeyed.topic, rekeyed.key, rekeyed.value, rekeyed.deliver_at) == ("send-requested", FR, event, None)
    assert [o.topic for o in consent_stage(opted_in(FR)).process(event, meta(MONDAY_10AM, key=FR))] == ["consent-checked", "frequency"]


def test_an_uncapped_group_is_read_under_its_e164_and_not_counted(marketing) -> None:
    """Re-keyed even without a cap: the number's consent rows live on its E.164's partition (topology.partitioning)."""
    rules = Rules(caps=FrequencyCaps(Cap(3, timedelta(days=7)), {GROUP: Cap(0, timedelta(days=7))}))
    event = marketing(recipient="06 12 34 56 78", default_region="FR")
    stage = consent_stage(opted_in(FR), rules=rules)
    (again,) = stage.process(event, meta(MONDAY_10AM, key="06 12 34 56 78"))
    assert (again.topic, again.key) == ("send-requested", FR)
    (out,) = stage.process(again.value, meta(MONDAY_10AM, key=FR))
    assert out.topic == "consent-checked"


def test_a_transactional_message_keyed_otherwise_goes_on_directly(request_event) -> None:
    (out,) = consent_stage({}).process(request_event(recipient="06 12 34 56 78", default_region="FR"), meta(MONDAY_10AM, key="x"))
    assert out.topic == "consent-checked"


def test_the_frequency_cap_suppresses_the_fourth_message_of_the_week(marketing, assert_valid) -> None:
    stage = consent_stage(opted_in(FR))  # no table: what the stage let through is remembered until the table shows it
    for day in range(3):
        out, _counted = stage.process(with_id(marketing(), f"m-{day}"), meta(MONDAY_10AM + timedelta(days=day)))
        assert out.topic == "consent-checked"
    (capped,) = stage.process(with_id(marketing(), "m-3"), meta(MONDAY_10AM + timedelta(days=3)))
    assert_valid(capped)
    assert (capped.value["status"], capped.value["reason"], capped.value["terminal"]) == ("SUPPRESSED", "frequency_cap", True)
    # A week after the first one, a slot is free again.
    out, counted = stage.process(with_id(marketing(), "m-4"), meta(MONDAY_10AM + timedelta(days=7, minutes=1)))
    assert out.topic == "consent-checked"
    assert [s["message_id"] for s in counted.value["sends"]] == ["m-1", "m-2", "m-4"]


def test_a_message_processed_twice_is_counted_once(marketing) -> None:
    stage = consent_stage(opted_in(FR))
    event = with_id(marketing(), "m-1")
    for _ in range(5):
        out, counted = stage.process(event, meta(MONDAY_10AM))
        assert out.topic == "consent-checked" and len(counted.value["sends"]) == 1


def test_caps_are_per_group_and_read_from_the_table(marketing) -> None:
    table = {consent_key(FR, GROUP): {"e164": FR, "subscription_group": GROUP, "updated_at": MONDAY_3AM,
                                     "sends": [{"message_id": "earlier", "sent_at": MONDAY_3AM}]}}
    rules = Rules(caps=FrequencyCaps(Cap(3, timedelta(days=7)), {GROUP: Cap(1, timedelta(days=1))}))
    (capped,) = consent_stage(opted_in(FR), table, rules).process(marketing(), meta(MONDAY_10AM))
    assert capped.value["detail"] == "1 marketing message of subscription group 'promotions' within 1 day, the cap is 1"
    out, _counted = consent_stage(opted_in(FR), table, rules).process(marketing(), meta(MONDAY_10AM + timedelta(days=1)))
    assert out.topic == "consent-checked"


def test_rules_follow_the_settings(tmp_path: Path, marketing) -> None:
    caps = tmp_path / "caps.toml"
    caps.write_text("[groups.promotions]\nmax_messages = 1\nwindow_days = 2\n")
    rules = rules_from_settings(Settings(quiet_hours_enabled=False, frequency_caps_file=caps, frequency_cap_max=9,
                                         frequency_cap_window_days=3))
    assert rules.quiet_hours is None
    assert rules.caps.cap(GROUP) == Cap(1, timedelta(days=2)) and rules.caps.cap("other") == Cap(9, timedelta(days=3))
    assert rules_from_settings(Settings()).quiet_hours is not None


def test_the_countries_limits_come_from_the_quiet_hours_file(tmp_path: Path) -> None:
    hours = tmp_path / "countries.toml"
    hours.write_text('[default]\nstart = "08:00"\nend = "21:00"\n[countries.FR]\nstart = "09:00"\nend = "19:00"\n'
                     'marketing_limit = { max_messages = 2, window_hours = 12 }\nsource = "test"\n')
    rules = rules_from_settings(Settings(quiet_hours_file=hours))
    assert rules.countries.get("FR").limit == Limit(2, timedelta(hours=12)) and rules.countries.get("US").limit is None
    assert rules.quiet_hours is not None and rules.quiet_hours.rule("FR").start.hour == 9
    assert rules_from_settings(Settings()).countries.get("US-FL").limit == Limit(3, timedelta(hours=24))


def test_the_pure_check_counts_without_a_key(marketing) -> None:
    outputs = check(marketing(recipient="06 12 34 56 78", default_region="FR"), opted_in(FR), MONDAY_10AM)
    assert [o.topic for o in outputs] == ["consent-checked", "frequency"]


def with_id(event: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {**event, "context": {**event["context"], "message_id": message_id}}
