"""Pure channel rules: which channel each policy gives a recipient, and why when it differs from what was asked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Callable, Iterable, Optional

from common.errors import TransientError
from processors.channel.senders import NoSender, SenderPools
from processors.receipts import receipt
from processors.runtime.stage import Event, Output

STAGE = "channel"
MMS_REGIONS = frozenset({"US", "CA"})
# How long an RCS message may stay without a delivery report before its SMS fallback goes (COURRIER_RCS_SMS_FALLBACK_AFTER_S).
SMS_FALLBACK_AFTER_S = 300
RCS_POLICIES = frozenset({"RCS_WITH_SMS_FALLBACK", "RCS_ONLY"})

# e164 → True (RCS capable), False (not capable), None (unknown: no RCS provider is configured).
# A lookup raises CapabilityUnknown when its provider did not answer now.
CapabilityLookup = Callable[[str], Optional[bool]]
# Whether a region lets a sender type (``SenderPools``' names: ALPHANUMERIC, LONG_CODE…) reach its numbers.
SenderTypes = Callable[[str, str], bool]


def any_sender_type(_region: str, _sender_type: str) -> bool:
    """No country rules: every pooled sender type may be used."""
    return True


class CapabilityUnknown(TransientError):
    """The capability API did not answer: RCS with SMS fallback sends SMS (``rcs_capability_unknown``), RCS only retries."""


def no_rcs_provider(_e164: str) -> bool | None:
    """The capability lookup while no RCS provider is configured: nothing is known about anyone."""
    return None


@dataclass(frozen=True)
class Choice:
    """A channel (with the reason it differs from the request, if it does), or why no channel is allowed."""

    channel: str | None
    fallback_reason: str | None = None
    suppressed: str | None = None
    detail: str | None = None


def choose_channel(policy: str, region: str, e164: str, rcs_capable: CapabilityLookup,
                   mms_regions: frozenset[str] = MMS_REGIONS) -> Choice:
    """Apply a channel policy; RCS capability is asked only for the RCS policies."""
    if policy == "SMS":
        return Choice("SMS")
    if policy == "MMS":
        return Choice("MMS") if region in mms_regions else Choice("SMS", fallback_reason="mms_unsupported_in_region")
    if policy not in RCS_POLICIES:
        raise ValueError(f"unknown channel policy {policy!r}")
    try:
        capable = rcs_capable(e164)
    except CapabilityUnknown:
        # RCS only must not be suppressed for an outage of the test it depends on: the record is retried later.
        if policy == "RCS_ONLY":
            raise
        capable = None
    if capable:
        return Choice("RCS")
    if policy == "RCS_ONLY":
        known = "is not RCS capable" if capable is False else "has an unknown RCS capability"
        return Choice(None, suppressed="rcs_unsupported", detail=f"policy RCS_ONLY and the recipient {known}")
    return Choice("SMS", fallback_reason="rcs_not_capable" if capable is False else "rcs_capability_unknown")


def rcs_recipients(events: Iterable[Event]) -> list[str]:
    """The distinct E.164 numbers whose RCS capability these events will ask for (malformed events are skipped)."""
    numbers: dict[str, None] = {}
    for event in events:
        if not isinstance(event, dict) or event.get("channel_policy") not in RCS_POLICIES:
            continue
        recipient = event.get("recipient")
        if isinstance(recipient, dict) and isinstance(recipient.get("e164"), str):
            numbers[recipient["e164"]] = None
    return list(numbers)


def resolve(event: Event, pools: SenderPools, rcs_capable: CapabilityLookup, now: datetime,
            mms_regions: frozenset[str] = MMS_REGIONS, sms_fallback_after_s: int = SMS_FALLBACK_AFTER_S,
            sender_types: SenderTypes = any_sender_type) -> list[Output]:
    """``consent-checked`` → ``channel-resolved`` keyed by E.164 with a sticky sender, or a suppressed receipt.

    RCS under ``RCS_WITH_SMS_FALLBACK`` also gets its SMS fallback's sender and deadline (the request's
    ``sms_fallback_after_s``, else ``sms_fallback_after_s``, after the RCS submission), so the SMS can go if the RCS
    message is not delivered in time."""
    recipient = event["recipient"]
    e164 = recipient["e164"]
    choice = choose_channel(event["channel_policy"], recipient["region"], e164, rcs_capable, mms_regions)
    if choice.channel is None:
        return [receipt(event["context"], e164, "SUPPRESSED", STAGE, now, reason=choice.suppressed, detail=choice.detail)]
    region = recipient["region"]
    allowed = partial(sender_types, region)
    try:
        sender = pools.choose(region, choice.channel, e164, allowed)
        sms_fallback = None
        if choice.channel == "RCS" and event["channel_policy"] == "RCS_WITH_SMS_FALLBACK":
            after_s = event.get("sms_fallback_after_s") or sms_fallback_after_s
            sms_fallback = {"sender": pools.choose(region, "SMS", e164, allowed), "after_s": after_s}
    except NoSender as exc:  # the country refuses every sender type this deployment pools for it
        return [receipt(event["context"], e164, "REJECTED", STAGE, now, reason="sender_type_not_allowed", detail=str(exc))]
    return [Output("channel-resolved", e164, {
        "context": event["context"],
        "recipient": recipient,
        "template_id": event["template_id"],
        "template_version": event.get("template_version"),
        "variables": event.get("variables") or {},
        "channel_policy": event["channel_policy"],
        "channel": choice.channel,
        "fallback_reason": choice.fallback_reason,
        "sender": sender,
        "expires_at": event.get("expires_at"),
        "locale": event.get("locale"),
        "sms_fallback": sms_fallback,
    })]
