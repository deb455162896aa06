"""Pure consent rules: number normalization (phonenumbers), validity window, and opt-in for marketing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, timezone as number_timezone

from processors.receipts import receipt
from processors.runtime.stage import Event, Output

STAGE = "consent"

# Line types that can receive an SMS. FIXED_LINE_OR_MOBILE is kept because several numbering
# plans (the US, Canada) do not tell the two apart; everything else (landlines, pagers, premium
# rate, voicemail…) is refused before anything is spent on it.
SMS_CAPABLE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_TYPE_NAMES = {value: name.lower() for name, value in vars(PhoneNumberType).items() if isinstance(value, int) and name.isupper()}


@dataclass(frozen=True)
class Refusal:
    """Why a number cannot be used: a machine-readable reason and a sentence for people."""

    reason: str
    detail: str


def number_type_name(number_type: int) -> str:
    """phonenumbers' number type in lower case, e.g. ``mobile``."""
    return _TYPE_NAMES.get(number_type, "unknown")


def normalize(raw: str, default_region: str | None) -> Event | Refusal:
    """The ``Recipient`` record of a number, or why it cannot receive SMS."""
    try:
        parsed = phonenumbers.parse(raw, (default_region or "").upper() or None)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            return Refusal("unknown_region", f"{raw!r} has no known country code and no default region was given")
        return Refusal("invalid_number", f"not a phone number: {exc._msg}")
    region = phonenumbers.region_code_for_number(parsed)
    if region in (None, "ZZ", "001"):
        return Refusal("unknown_region", f"country code +{parsed.country_code} belongs to no region")
    if not phonenumbers.is_valid_number(parsed):
        return Refusal("invalid_number", f"not a valid {region} number")
    number_type = phonenumbers.number_type(parsed)
    if number_type not in SMS_CAPABLE_TYPES:
        return Refusal("number_type_cannot_receive_sms", f"a {number_type_name(number_type)} number cannot receive SMS")
    zones = [z for z in number_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    return {
        "e164": phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        "region": region,
        "number_type": number_type_name(number_type),
        "time_zone": zones[0] if zones else None,
    }


def expiry(event: Event) -> datetime | None:
    """When the message stops being worth sending: ``requested_at + validity_seconds``."""
    seconds = event.get("validity_seconds")
    return None if seconds is None else event["context"]["requested_at"] + timedelta(seconds=seconds)


def consent_key(e164: str, subscription_group: str) -> str:
    """Key of the compacted ``consent`` topic."""
    return f"{e164}|{subscription_group}"


def basis(event: Event, e164: str, consents: Mapping[str, Event]) -> str | Refusal:
    """The consent a message relies on, or why it may not be sent (a suppression for marketing without opt-in)."""
    context = event["context"]
    if context["lane"] == "TRANSACTIONAL":
        return "transactional"
    group = context.get("subscription_group")
    if not group:
        return Refusal("missing_subscription_group", "a marketing message must name the subscription group whose consent it relies on")
    state = consents.get(consent_key(e164, group))
    if state is None:
        return Refusal("no_consent", f"no opt-in for subscription group {group!r}")
    if state["status"] != "OPTED_IN":
        return Refusal("opted_out", f"opted out of {group!r} via {state['source']} at {state['changed_at'].isoformat()}")
    return f"opt-in:{state['source']}@{state['changed_at'].isoformat()}"


def check(event: Event, consents: Mapping[str, Event], now: datetime) -> list[Output]:
    """``send-requested`` → ``consent-checked``, or one terminal receipt saying why not."""
    context = event["context"]
    recipient = normalize(event["recipient"], event.get("default_region"))
    if isinstance(recipient, Refusal):
        return [receipt(context, event["recipient"], "REJECTED", STAGE, now, reason=recipient.reason, detail=recipient.detail)]
    e164 = recipient["e164"]
    expires_at = expiry(event)
    if expires_at is not None and expires_at <= now:
        return [receipt(context, e164, "EXPIRED", STAGE, now, reason="validity_elapsed",
                        detail=f"validity ended at {expires_at.isoformat()} before the consent check")]
    allowed = basis(event, e164, consents)
    if isinstance(allowed, Refusal):
        status = "REJECTED" if allowed.reason == "missing_subscription_group" else "SUPPRESSED"
        return [receipt(context, e164, status, STAGE, now, reason=allowed.reason, detail=allowed.detail)]
    return [Output("consent-checked", e164, {
        "context": context, "recipient": recipient, "template_id": event["template_id"], "variables": event.get("variables") or {},
        "channel_policy": event["channel_policy"], "expires_at": expires_at, "locale": event.get("locale"), "consent_basis": allowed,
    })]
