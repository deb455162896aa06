"""Recipient numbers: parse with phonenumbers, refuse what cannot receive an SMS, and describe the rest.

Which line types may receive an SMS (phonenumbers' ``PhoneNumberType``):

| type                  | allowed | why                                                                      |
|-----------------------|---------|--------------------------------------------------------------------------|
| MOBILE                | yes     | the handset an SMS is for                                                |
| FIXED_LINE_OR_MOBILE  | yes     | numbering plans such as the US and Canada do not tell the two apart      |
| FIXED_LINE            | no      | landlines drop SMS (or read them out by voice, billed, on a few carriers)|
| VOIP                  | no      | nomadic VoIP ranges mostly have no SMS route; delivery is not reliable   |
| TOLL_FREE             | no      | a business line that receives calls, not a person's phone                |
| PREMIUM_RATE          | no      | a paid service line                                                      |
| SHARED_COST           | no      | a paid service line                                                      |
| PERSONAL_NUMBER       | no      | a forwarding number (UK 070): no SMS route, premium charges              |
| PAGER                 | no      | no SMS over the mobile network                                           |
| UAN                   | no      | a company's universal access number                                      |
| VOICEMAIL             | no      | voicemail access                                                         |
| UNKNOWN               | no      | nothing says a handset answers                                           |

The analysis of a number (parse, line type, region, zones: ~30 µs in phonenumbers) is kept in a bounded LRU keyed by
the number as written and the default region, so a recipient seen again (a campaign, a retry, a deferral's release)
costs a lookup; ``clear_cache`` empties it (tests that patch phonenumbers' data).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, PhoneNumberType, phonenumberutil
from phonenumbers import timezone as number_timezone

from processors.runtime.stage import Event

SMS_CAPABLE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_TYPE_NAMES = {value: name.lower() for name, value in vars(PhoneNumberType).items() if name.isupper() and isinstance(value, int)}
# region_code_for_number answers these for numbers that belong to no country (e.g. +800 freephone,
# +881 satellite): no country rule (senders, quiet hours, MMS support) can apply to them.
NO_REGION = frozenset({None, "ZZ", phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY})
# About 1 KB per entry: a few MB for the recipients of a busy minute, whatever the history.
CACHE_SIZE = 8192


@dataclass(frozen=True)
class Refusal:
    """Why a request cannot go on: a machine-readable reason and a sentence for people."""

    reason: str
    detail: str


def number_type_name(number_type: int) -> str:
    """phonenumbers' number type in lower case, e.g. ``mobile``."""
    return _TYPE_NAMES.get(number_type, "unknown")


@dataclass(frozen=True)
class Number:
    """A number able to receive SMS: its ``Recipient`` record, and every zone phonenumbers gives for it (several when its area spans zones)."""

    recipient: Event
    zones: tuple[str, ...]


def normalize(raw: str, default_region: str | None) -> Event | Refusal:
    """The ``Recipient`` record of ``raw`` (parsed in ``default_region`` when it has no ``+``), or why it cannot receive SMS."""
    found = examine(raw, default_region)
    return found if isinstance(found, Refusal) else found.recipient


def examine(raw: str, default_region: str | None) -> Number | Refusal:
    """What ``normalize`` answers, with the number's candidate time zones."""
    region_hint = default_region.strip().upper() if default_region and default_region.strip() else None
    found = _analysis(raw, region_hint)
    # A copy of the cached record: callers put it in outputs of their own, which must not reach back into the cache.
    return found if isinstance(found, Refusal) else Number(dict(found.recipient), found.zones)


def clear_cache() -> None:
    """Forget every cached analysis."""
    _analysis.cache_clear()
    _COUNTRY_ZONES.clear()


# time_zones_for_number would match the number's type a third time; for the types phonenumbers does not place
# within a country (most mobiles), its answer is the country code's zones, kept here per country code.
_COUNTRY_ZONES: dict[int, tuple[str, ...]] = {}


def _zones(parsed: phonenumbers.PhoneNumber, number_type: int) -> tuple[str, ...]:
    if phonenumbers.is_number_type_geographical(number_type, parsed.country_code):
        return tuple(number_timezone.time_zones_for_geographical_number(parsed))
    zones = _COUNTRY_ZONES.get(parsed.country_code)
    if zones is None:
        zones = _COUNTRY_ZONES[parsed.country_code] = tuple(number_timezone.time_zones_for_number(parsed))
    return zones


def type_in_region(parsed: phonenumbers.PhoneNumber, region: str | None) -> int:
    """``phonenumbers.number_type(parsed)`` when ``region`` is ``region_code_for_number(parsed)``, as number_type computes it.

    number_type starts by asking for the region itself; for a country code several regions share (+1, +7, +44…) that
    is a match of the number against each region's patterns in turn, so a caller that needs the region too would pay
    it twice (about a sixth of an analysis). Its two remaining steps, on phonenumbers' own helper, take the region given.
    """
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(parsed.country_code, region)
    if metadata is None:
        return PhoneNumberType.UNKNOWN
    return phonenumberutil._number_type_helper(phonenumbers.national_significant_number(parsed), metadata)


@lru_cache(maxsize=CACHE_SIZE)
def _analysis(raw: str, region_hint: str | None) -> Number | Refusal:
    try:
        parsed = phonenumbers.parse(raw, region_hint)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            given = f"default region {region_hint!r}" if region_hint else "no default region"
            return Refusal("unknown_region", f"no known country code in the number and {given}")
        return Refusal("invalid_number", f"not a phone number: {exc.args[0] if exc.args else exc}")
    if phonenumbers.region_code_for_country_code(parsed.country_code) == "ZZ":
        return Refusal("unknown_region", f"country code +{parsed.country_code} is not assigned")
    # is_valid_number is number_type's own match against the region's patterns, compared with UNKNOWN: asking both
    # would match the number twice, so the type alone answers validity.
    region = phonenumbers.region_code_for_number(parsed)
    number_type = type_in_region(parsed, region)
    if number_type == PhoneNumberType.UNKNOWN:
        return Refusal("invalid_number", f"not a valid number for country code +{parsed.country_code}")
    if number_type not in SMS_CAPABLE_TYPES:
        return Refusal("number_type_cannot_receive_sms", f"a {number_type_name(number_type)} number cannot receive SMS")
    if region in NO_REGION:
        return Refusal("unknown_region", f"+{parsed.country_code} numbers belong to no country")
    zones = tuple(zone for zone in _zones(parsed, number_type) if zone != number_timezone.UNKNOWN_TIMEZONE)
    return Number({
        "e164": phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
        "region": region,
        "number_type": number_type_name(number_type),
        "time_zone": zones[0] if zones else None,
    }, zones)


def describe(raw: str, default_region: str | None) -> dict[str, object]:
    """What ``courrier phone`` prints, with ``valid`` in the sense of phonenumbers and Twilio Lookup.

    ``valid``: the number exists in its country's numbering plan (a landline or a toll-free number is valid).
    ``line_type``: phonenumbers' type for the number's range (from the numbering plan, not live carrier data: a
    ported number keeps its range's type). ``sms_capable``: Courrier would send it an SMS (see the table above);
    ``reason`` says why not. ``e164`` and ``region`` whenever the number parses as a possible one.
    """
    verdict = normalize(raw, default_region)
    region_hint = default_region.strip().upper() if default_region and default_region.strip() else None
    facts: dict[str, object] = {"valid": False, "e164": None, "region": None, "line_type": None,
                                "sms_capable": not isinstance(verdict, Refusal),
                                "reason": verdict.reason if isinstance(verdict, Refusal) else None}
    try:
        parsed = phonenumbers.parse(raw, region_hint)
    except NumberParseException:
        return facts
    region = phonenumbers.region_code_for_number(parsed)
    facts["region"] = None if region in NO_REGION else region
    facts["valid"] = phonenumbers.is_valid_number(parsed)
    if phonenumbers.is_possible_number(parsed):
        facts["e164"] = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
        facts["line_type"] = number_type_name(phonenumbers.number_type(parsed))
    return facts
