"""Properties over random instants, countries and consent histories (invariant 2).

No marketing ``consent-checked`` comes out inside the recipient's quiet hours or without an opt-in
at the time of the check, and a message is never dropped: each check ends in one terminal
receipt, a consent-checked, or a deferral to an allowed instant. A deferred message is followed
through its releases, with the consent history as it stands at each of them.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import phonenumbers
from hypothesis import event as note_case, given, settings, strategies as st

from processors.consent import quiet_hours
from processors.consent.frequency import RecentSends
from processors.consent.logic import Rules, check, consent_key, default_rules
from processors.rules.numbers import Refusal, examine
from processors.receipts import TERMINAL_STATUSES
from processors.runtime.stage import Output

GROUP = "promotions"
# Single- and multi-zone countries, with and without a rule of their own, and one number whose zones phonenumbers cannot narrow.
NUMBERS = ("+33612345678", "+12015550123", "+14155550123", "+18085550123", "+447400123456", "+4915112345678", "+79123456789",
           "+61412345678", "+34612345678", "+5511987654321", "+819012345678", "+6421123456", "+12684641234")
ZONES = (None, None, None, "Europe/Paris", "America/Los_Angeles", "Asia/Tokyo", "Pacific/Auckland")
START = datetime(2025, 1, 1, tzinfo=timezone.utc)

instants = st.integers(0, 4 * 365 * 24 * 60).map(lambda minutes: START + timedelta(minutes=minutes))
# A consent history: opt-ins and opt-outs at minutes relative to the request, some before it, some while it waits.
changes = st.lists(st.tuples(st.integers(-7 * 24 * 60, 7 * 24 * 60), st.sampled_from(["OPTED_IN", "OPTED_OUT"])), max_size=6)
# Most recipients opted in some time before: the interesting paths (deferral, release, a later STOP) start there.
histories = st.one_of(changes, changes.map(lambda later: [(-30 * 24 * 60, "OPTED_IN"), *later]),
                      changes.map(lambda later: [(-30 * 24 * 60, "OPTED_IN"), *later]))
validities = st.one_of(st.none(), st.none(), st.integers(1, 7 * 24 * 3600))


def zones_of(e164: str) -> tuple[str, ...]:
    found = examine(e164, None)
    assert not isinstance(found, Refusal)
    return found.zones


def consents_at(e164: str, history: list[tuple[int, str]], requested: datetime, now: datetime) -> dict[str, dict[str, Any]]:
    """The consent view as the consent stage would see it at ``now``: the latest change made by then."""
    made = sorted((requested + timedelta(minutes=m), status) for m, status in history)
    made = [(at, status) for at, status in made if at <= now]
    if not made:
        return {}
    changed_at, status = made[-1]
    return {consent_key(e164, GROUP): {"e164": e164, "subscription_group": GROUP, "status": status, "basis": "MARKETING",
                                      "source": "test", "evidence": None, "changed_at": changed_at}}


@settings(max_examples=400, deadline=None)
@given(instants, st.sampled_from(NUMBERS), st.sampled_from(ZONES), histories, st.sampled_from(["MARKETING", "TRANSACTIONAL"]),
       st.one_of(st.none(), st.integers(-600, 3 * 24 * 60)), validities)
def test_no_marketing_send_in_quiet_hours_or_without_opt_in(requested: datetime, e164: str, given_zone: str | None,
                                                             history: list[tuple[int, str]], lane: str, send_in: int | None,
                                                             validity: int | None) -> None:
    rules = default_rules()
    event = {
        "context": {"message_id": "m-1", "idempotency_key": None, "campaign_id": None, "variant": None, "lane": lane,
                    "subscription_group": GROUP, "requested_at": requested, "source": "test"},
        "recipient": e164, "default_region": None, "template_id": "promo", "variables": {}, "channel_policy": "SMS",
        "send_at": None if send_in is None else requested + timedelta(minutes=send_in),
        "validity_seconds": validity, "locale": None, "time_zone": given_zone,
    }
    now, key = requested, e164
    for _release in range(12):
        outputs = check(event, consents_at(e164, history, requested, now), now, rules=rules, key=key)
        topics = [o.topic for o in outputs]
        if topics == ["receipt", "send-requested"]:  # deferred: to a later, allowed instant, with a non-terminal receipt
            notice, later = outputs
            assert notice.value["status"] == "DEFERRED" and not notice.value["terminal"]
            assert later.deliver_at is not None and later.deliver_at > now and later.value is event
            if lane == "MARKETING":
                assert_allowed(later.deliver_at, later.value, e164)
                assert consents_at(e164, history, requested, now)[consent_key(e164, GROUP)]["status"] == "OPTED_IN"
            note_case(f"{lane} deferred ({notice.value['reason']})")
            now, key = later.deliver_at, later.key
            continue
        if topics[0] == "consent-checked":
            assert topics == (["consent-checked", "frequency"] if lane == "MARKETING" else ["consent-checked"])
            assert event["send_at"] is None or event["send_at"] <= now
            if lane == "MARKETING":
                assert consents_at(e164, history, requested, now)[consent_key(e164, GROUP)]["status"] == "OPTED_IN"
                assert_allowed(now, event, e164)
            note_case(f"{lane} checked")
            return
        assert len(outputs) == 1 and outputs[0].value["status"] in TERMINAL_STATUSES
        if outputs[0].value["status"] == "SUPPRESSED":
            assert consents_at(e164, history, requested, now).get(consent_key(e164, GROUP), {}).get("status") != "OPTED_IN"
        note_case(f"{lane} {outputs[0].value['status']} {outputs[0].value['reason']}")
        return
    raise AssertionError(f"{e164} still deferred after 12 releases")


def assert_allowed(instant: datetime, event: dict[str, Any], e164: str) -> None:
    rules = default_rules().quiet_hours
    assert rules is not None
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    zones = rules.zones(region, zones_of(e164), event["time_zone"])
    assert quiet_hours.is_allowed(instant, region, zones, rules), (instant, region, zones)


@settings(max_examples=200, deadline=None)
@given(instants, st.sampled_from(NUMBERS), st.lists(st.integers(0, 30 * 24 * 60), min_size=1, max_size=12))
def test_a_cap_is_never_exceeded_within_its_window(start: datetime, e164: str, offsets: list[int]) -> None:
    """Whatever the arrival times, no 7-day window holds more than 3 marketing messages let through."""
    rules = Rules(quiet_hours=None)
    consents = {consent_key(e164, GROUP): {"e164": e164, "subscription_group": GROUP, "status": "OPTED_IN", "basis": "MARKETING",
                                          "source": "test", "evidence": None, "changed_at": START}}
    sends = RecentSends({})
    passed: list[datetime] = []
    for i, minutes in enumerate(sorted(offsets)):
        now = start + timedelta(minutes=minutes)
        event = {"context": {"message_id": f"m-{i}", "lane": "MARKETING", "subscription_group": GROUP, "requested_at": now},
                 "recipient": e164, "template_id": "promo", "channel_policy": "SMS"}
        outputs: list[Output] = check(event, consents, now, rules=rules, sends=sends, key=e164)
        sends.remember(outputs)
        if outputs[0].topic == "consent-checked":
            passed.append(now)
        else:
            assert outputs[0].value["reason"] == "frequency_cap"
            assert sum(1 for t in passed if t > now - timedelta(days=7)) == 3
    for t in passed:
        assert sum(1 for u in passed if t - timedelta(days=7) < u <= t) <= 3
