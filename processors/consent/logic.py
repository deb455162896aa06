"""Pure consent rules: a usable number, a message still worth sending, the consent it relies on, when it may go, and how often.

The checks run in this order, the first that says no deciding the message's path: number → erased on request (any
lane) → validity → a test send (only to the test list, nothing more checked) → a marketing template on the
transactional lane (rejected) → a subscription group whose STOP and HELP responses are not set (rejected) → consent →
time (``send_at``, then quiet hours for marketing) → the country's marketing limit → frequency cap. Quiet hours and
limits are the country's (``countries``), or its state's when the number's area code is in a state with stricter rules
(``US-FL``). A message that may not go yet is deferred, never dropped: a non-terminal ``DEFERRED`` receipt (reason
``quiet_hours``, ``scheduled_send`` or ``country_limit``), and the request itself back to ``send-requested`` at the
release time (the scheduler holds it), where this check runs again, so a STOP or an expiry in between still counts. A
message whose validity ends before its release time is ``EXPIRED`` at once. Idempotency is not decided here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable, Container, Mapping

from processors.consent import quiet_hours
from processors.consent.countries import Countries, Limit, bundled_countries, subdivision
from processors.consent.frequency import FrequencyCaps, admit, limit_release, load_caps
from processors.rules.keywords import KEYWORDS_INCOMPLETE
from processors.rules.consent import MARKETING_ON_TRANSACTIONAL, REJECTING_REASONS, consent_basis, consent_key
from processors.rules.numbers import Refusal, examine
from processors.rules.purposes import marketing_templates
from processors.rules.test_sends import BASIS_PREFIX as TEST_BASIS, REASON as TEST_REFUSED, is_test, refusal_detail
from processors.rules.zones import valid_zone
from processors.consent.quiet_hours import QuietHours
from processors.receipts import receipt
from processors.runtime.stage import Event, Output

STAGE = "consent"
# Reasons that are the caller's mistake (REJECTED) rather than the recipient's choice (SUPPRESSED).


@dataclass(frozen=True)
class Rules:
    """What the check applies beyond the recipient's own consent: quiet hours (None turns them off), frequency caps,
    the countries' marketing limits and the templates declared for marketing (refused on the transactional lane)."""

    quiet_hours: QuietHours | None = field(default_factory=quiet_hours.bundled)
    caps: FrequencyCaps = field(default_factory=load_caps)
    countries: Countries = field(default_factory=bundled_countries)
    marketing_templates: Container[object] = field(default_factory=marketing_templates)  # a folder's, or the store's (live)
    # Why a subscription group may not send marketing yet (its STOP/HELP responses, ``keywords.completeness``), or None.
    group_incomplete: Callable[[str], str | None] | None = None
    # The numbers a test send may go to (``rules.test_sends``): the list is their consent.
    test_numbers: frozenset[str] = frozenset()

    def region_of(self, recipient: Event) -> str:
        """The recipient's region, narrowed to a subdivision (``US-FL``) that has rules of its own."""
        region = recipient["region"]
        with_rules = self.quiet_hours.subdivisions(region) if self.quiet_hours is not None else frozenset()
        return subdivision(recipient["e164"], region, with_rules | self.countries.subdivisions(region))


@lru_cache(maxsize=1)
def default_rules() -> Rules:
    """The bundled quiet hours and caps, with the default cap."""
    return Rules()


@dataclass(frozen=True)
class Deferral:
    """Why a message may not go now, and when it may."""

    until: datetime
    reason: str
    detail: str


def expiry(event: Event) -> datetime | None:
    """When the message stops being worth sending: ``requested_at + validity_seconds``, or never."""
    seconds = event.get("validity_seconds")
    return None if seconds is None else event["context"]["requested_at"] + timedelta(seconds=seconds)


def deferral(event: Event, recipient: Event, number_zones: tuple[str, ...], now: datetime, rules: Rules) -> Deferral | None:
    """When the message may go if that is later than ``now``: its ``send_at``, then, for marketing, the recipient's next allowed hour."""
    send_at = event.get("send_at")
    earliest = send_at if send_at is not None and send_at > now else now
    until, hours = earliest, ""
    if event["context"]["lane"] == "MARKETING" and rules.quiet_hours is not None:
        region = rules.region_of(recipient)
        zones = rules.quiet_hours.zones(region, number_zones, event.get("time_zone"))
        until = quiet_hours.next_allowed(earliest, region, zones, rules.quiet_hours)
        hours = f"outside the allowed hours in {', '.join(zones)} ({region} rule)"
    if until <= now:
        return None
    if earliest > now:
        shifted = f", then {hours}" if until > earliest else ""
        return Deferral(until, "scheduled_send", f"send_at {earliest.isoformat()}{shifted}; released at {until.isoformat()}")
    return Deferral(until, "quiet_hours", f"{hours}; released at {until.isoformat()}")


def limit_deferral(record: Event | None, limit: Limit, recipient: Event, number_zones: tuple[str, ...], event: Event,
                   now: datetime, rules: Rules) -> Deferral | None:
    """When the country's marketing limit lets the message go if not now: once the oldest counted send leaves the window,
    at the recipient's next allowed hour."""
    release = limit_release(record, limit.max_messages, limit.window, event["context"]["message_id"], now)
    if release is None:
        return None
    region = rules.region_of(recipient)
    if rules.quiet_hours is not None:
        zones = rules.quiet_hours.zones(region, number_zones, event.get("time_zone"))
        release = quiet_hours.next_allowed(release, region, zones, rules.quiet_hours)
    hours = limit.window / timedelta(hours=1)
    return Deferral(release, "country_limit", f"{limit.max_messages} marketing messages within {hours:g} hours is the {region} "
                                              f"limit; released at {release.isoformat()}")


def _incomplete_group(context: Event, rules: Rules) -> str | None:
    """What a marketing message's subscription group still lacks before it may send (its STOP and HELP responses)."""
    group = context.get("subscription_group")
    if context["lane"] != "MARKETING" or not group or rules.group_incomplete is None:
        return None
    return rules.group_incomplete(group)


def check(event: Event, consents: Mapping[str, Event], now: datetime, *, rules: Rules | None = None,
          sends: Mapping[str, Event] | None = None, key: str | None = None,
          erased: Callable[[str], Refusal | None] | None = None) -> list[Output]:
    """``send-requested`` → ``consent-checked`` keyed by E.164, a deferral, or one terminal receipt saying why not.

    ``erased`` says why a number erased on request may never be messaged (``suppressions.Suppressions.refusal``).
    ``sends`` is the frequency view keyed ``E164|group`` (``FrequencyRecord`` values); ``key`` is the
    record's Kafka key, or "" when it was read on a partition whose consent rows this instance does not hold: a
    marketing message read under another key than its E.164 is put back on ``send-requested`` under its E.164 before
    its consent is read, so the one partition, hence the one instance, that holds the number's consent and
    frequency rows (``topology.partitioning``) decides and counts (None: the caller is not reading Kafka, decide here).
    """
    rules = rules or default_rules()
    context = event["context"]
    number = examine(event["recipient"], event.get("default_region"))
    if isinstance(number, Refusal):
        return [receipt(context, event["recipient"], "REJECTED", STAGE, now, reason=number.reason, detail=number.detail)]
    recipient = number.recipient
    e164 = recipient["e164"]
    gone = erased(e164) if erased is not None else None
    if gone is not None:  # erased on request: whatever the lane, before anything else is said about the number
        return [receipt(context, e164, "SUPPRESSED", STAGE, now, reason=gone.reason, detail=gone.detail)]
    given_zone = event.get("time_zone")
    if given_zone is not None:
        if not valid_zone(given_zone):
            return [receipt(context, e164, "REJECTED", STAGE, now, reason="invalid_time_zone",
                            detail=f"{given_zone!r} is not an IANA time zone (e.g. Europe/Paris)")]
        recipient = {**recipient, "time_zone": given_zone}
    expires_at = expiry(event)
    if expires_at is not None and expires_at <= now:
        return [receipt(context, e164, "EXPIRED", STAGE, now, reason="validity_elapsed",
                        detail=f"validity ended at {expires_at.isoformat()}, before the consent check")]
    if is_test(context):  # the test list is the consent: no opt-in, quiet hours nor cap (rules.test_sends)
        refused = refusal_detail(e164, rules.test_numbers)
        if refused is not None:
            return [receipt(context, e164, "REJECTED", STAGE, now, reason=TEST_REFUSED, detail=refused)]
        return [_checked(event, recipient, expires_at, f"{TEST_BASIS}{e164}")]
    if context["lane"] == "TRANSACTIONAL" and _declared_marketing(event, rules.marketing_templates):
        return [receipt(context, e164, "REJECTED", STAGE, now, reason=MARKETING_ON_TRANSACTIONAL,
                        detail=f"template {event['template_id']!r} is declared for marketing: send it on the marketing lane "
                               "with the subscription_group whose opt-in it relies on")]
    incomplete = _incomplete_group(context, rules)
    if incomplete is not None:
        return [receipt(context, e164, "REJECTED", STAGE, now, reason=KEYWORDS_INCOMPLETE, detail=incomplete)]
    if key is not None and key != e164 and context["lane"] == "MARKETING" and context.get("subscription_group"):
        return [Output("send-requested", e164, event)]  # read again where this number's consent and counts are kept
    basis = consent_basis(context, e164, consents, event["template_id"])
    if isinstance(basis, Refusal):
        status = "REJECTED" if basis.reason in REJECTING_REASONS else "SUPPRESSED"
        return [receipt(context, e164, status, STAGE, now, reason=basis.reason, detail=basis.detail)]
    later = deferral(event, recipient, number.zones, now, rules)
    group = context.get("subscription_group")
    marketing = context["lane"] == "MARKETING" and bool(group)
    cap = rules.caps.cap(group) if marketing else None
    limit = rules.countries.get(rules.region_of(recipient)).limit if marketing else None
    view = sends if sends is not None else {}
    if later is None and limit is not None:
        later = limit_deferral(view.get(consent_key(e164, group)), limit, recipient, number.zones, event, now, rules)
    if later is not None:
        if expires_at is not None and expires_at <= later.until:
            return [receipt(context, e164, "EXPIRED", STAGE, now, reason="validity_ends_before_release",
                            detail=f"validity ends at {expires_at.isoformat()}, before the message may go ({later.reason}: {later.detail})")]
        return [receipt(context, e164, "DEFERRED", STAGE, now, reason=later.reason, detail=later.detail),
                Output("send-requested", e164, event, deliver_at=later.until)]
    counted: list[Output] = []
    if (cap is not None and cap.max_messages) or limit is not None:
        keep = (limit.max_messages, limit.window) if limit is not None else None
        record = admit(view.get(consent_key(e164, group)), e164, group, context["message_id"], cap, now, keep=keep)
        if isinstance(record, Refusal):
            return [receipt(context, e164, "SUPPRESSED", STAGE, now, reason=record.reason, detail=record.detail)]
        counted = [record]
    return [_checked(event, recipient, expires_at, basis), *counted]


def _declared_marketing(event: Event, marketing: Container[object]) -> bool:
    """Whether the request's template is for marketing: its latest published version says so, or the version the request
    names does (a store's ``(id, version)`` pairs; a folder has one version per id)."""
    version = event.get("template_version")
    return event["template_id"] in marketing or (version is not None and (event["template_id"], version) in marketing)


def _checked(event: Event, recipient: Event, expires_at: datetime | None, basis: str) -> Output:
    """The ``consent-checked`` record of a message let through on ``basis``."""
    return Output("consent-checked", recipient["e164"], {
        "context": event["context"],
        "recipient": recipient,
        "template_id": event["template_id"],
        "template_version": event.get("template_version"),
        "variables": event.get("variables") or {},
        "channel_policy": event["channel_policy"],
        "expires_at": expires_at,
        "locale": event.get("locale"),
        "consent_basis": basis,
        "sms_fallback_after_s": event.get("sms_fallback_after_s"),
    })
