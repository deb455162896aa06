"""Properties over every country and US state of the bundled rules, any zone a request may name, and any instant.

A burst of marketing messages to one recipient is followed through every deferral and release, with
the consent history as it stands at each check: none is let through inside the recipient's quiet
hours (the country's or state's window, closed days, public holidays) or while opted out, none is
dropped (each ends let through, expired or suppressed), and a country's marketing limit is never
exceeded within its window.
"""
from __future__ import annotations

import heapq
from datetime import datetime, timedelta, timezone
from typing import Any

import phonenumbers
from hypothesis import event as note_case, given, settings, strategies as st
from phonenumbers import PhoneNumberType

from processors.consent import quiet_hours
from processors.rules import zones
from processors.consent.countries import bundled_countries
from processors.consent.frequency import Cap, FrequencyCaps, RecentSends
from processors.consent.logic import Rules, check, consent_key, default_rules
from processors.rules.numbers import Refusal, examine
from processors.receipts import TERMINAL_STATUSES

GROUP = "promotions"
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
# A number in each US state with rules of its own (its area code decides).
STATE_NUMBERS = {"US-FL": "+13055550123", "US-OK": "+14055550123", "US-MD": "+14105550123", "US-CT": "+12035550123",
                 "US-WA": "+12065550123", "US-TX": "+15125550123", "US-AL": "+12055550123", "US-LA": "+12255550123",
                 "US-MS": "+16015550123", "US-MA": "+16175550123", "US-KY": "+15025550123", "US-RI": "+14015550123"}


def _examples() -> list[tuple[str, str]]:
    found = []
    for region in sorted(bundled_countries().countries):
        if "-" in region:
            found.append((region, STATE_NUMBERS[region]))
            continue
        number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        found.append((region, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)))
    return found


EXAMPLES = _examples()
ZONES = sorted(zones.known_zones())
instants = st.integers(0, 4 * 365 * 24 * 60).map(lambda minutes: START + timedelta(minutes=minutes))
changes = st.lists(st.tuples(st.integers(-3 * 24 * 60, 5 * 24 * 60), st.sampled_from(["OPTED_IN", "OPTED_OUT"])), max_size=4)
histories = st.one_of(changes, changes.map(lambda later: [(-30 * 24 * 60, "OPTED_IN"), *later]),
                      st.just([(-30 * 24 * 60, "OPTED_IN")]))


def test_every_state_example_is_in_its_state() -> None:
    rules = default_rules()
    for region, e164 in STATE_NUMBERS.items():
        found = examine(e164, None)
        assert not isinstance(found, Refusal)
        assert rules.region_of(found.recipient) == region


def consents_at(e164: str, history: list[tuple[int, str]], requested: datetime, now: datetime) -> dict[str, dict[str, Any]]:
    made = sorted((requested + timedelta(minutes=m), status) for m, status in history)
    made = [(at, status) for at, status in made if at <= now]
    if not made:
        return {}
    changed_at, status = made[-1]
    return {consent_key(e164, GROUP): {"e164": e164, "subscription_group": GROUP, "status": status, "basis": "MARKETING",
                                      "source": "test", "evidence": None, "changed_at": changed_at}}


@settings(max_examples=500, deadline=None)
@given(instants, st.sampled_from(EXAMPLES), st.one_of(st.none(), st.none(), st.sampled_from(ZONES)), histories,
       st.lists(st.integers(0, 36 * 60), min_size=1, max_size=5), st.booleans())
def test_no_marketing_release_in_quiet_hours_after_an_opt_out_or_over_a_limit(
        requested: datetime, example: tuple[str, str], zone: str | None, history: list[tuple[int, str]],
        arrivals: list[int], group_capped: bool) -> None:
    region, e164 = example
    # Without the group's cap (3 a week by default) the countries' own limits are the ones that bite.
    rules = default_rules() if group_capped else Rules(caps=FrequencyCaps(Cap(0, timedelta(days=7))))
    assert rules.quiet_hours is not None
    number = examine(e164, None)
    assert not isinstance(number, Refusal)
    assert rules.region_of(number.recipient) == region
    zones = rules.quiet_hours.zones(region, number.zones, zone)
    sends = RecentSends({})
    queue = []
    for i, minutes in enumerate(arrivals):
        event = {"context": {"message_id": f"m-{i}", "idempotency_key": None, "lane": "MARKETING", "subscription_group": GROUP,
                             "requested_at": requested + timedelta(minutes=minutes), "source": "test"},
                 "recipient": e164, "default_region": None, "template_id": "promo", "variables": {}, "channel_policy": "SMS",
                 "send_at": None, "validity_seconds": None, "locale": None, "time_zone": zone}
        heapq.heappush(queue, (requested + timedelta(minutes=minutes), i, event))
    released: list[datetime] = []
    ended: set[str] = set()
    for _step in range(20 * len(arrivals)):
        if not queue:
            break
        now, i, event = heapq.heappop(queue)
        outputs = check(event, consents_at(e164, history, requested, now), now, rules=rules, sends=sends, key=e164)
        sends.remember(outputs)
        topics = [o.topic for o in outputs]
        if topics == ["receipt", "send-requested"]:  # deferred, never dropped: back in the queue at its release time
            notice, later = outputs
            assert notice.value["status"] == "DEFERRED" and not notice.value["terminal"]
            note_case(f"deferred: {notice.value['reason']}")
            assert later.deliver_at is not None and later.deliver_at > now
            assert quiet_hours.is_allowed(later.deliver_at, region, zones, rules.quiet_hours), (region, zones, later.deliver_at)
            heapq.heappush(queue, (later.deliver_at, i, later.value))
        elif topics[0] == "consent-checked":
            assert quiet_hours.is_allowed(now, region, zones, rules.quiet_hours), (region, zones, now)
            assert consents_at(e164, history, requested, now)[consent_key(e164, GROUP)]["status"] == "OPTED_IN"
            released.append(now)
            ended.add(event["context"]["message_id"])
        else:
            assert len(outputs) == 1 and outputs[0].value["status"] in TERMINAL_STATUSES
            assert outputs[0].value["reason"] in {"no_consent", "opted_out", "frequency_cap"}
            ended.add(event["context"]["message_id"])
    assert not queue and len(ended) == len(arrivals), "a message was neither released nor ended"
    limit = bundled_countries().get(region).limit
    if limit is not None:
        for t in released:
            assert sum(1 for u in released if t - limit.window < u <= t) <= limit.max_messages
