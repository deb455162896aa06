"""Pure channel rules: which channel each policy gives a recipient, and why when it differs from what was asked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

from processors.channel.senders import SenderPools
from processors.receipts import receipt
from processors.runtime.stage import Event, Output

STAGE = "channel"
MMS_REGIONS = frozenset({"US", "CA"})

# e164 → True (RCS capable), False (not capable), None (unknown: no RCS provider, or it did not answer).
# A lookup may raise TransientError to have the record retried later.
CapabilityLookup = Callable[[str], Optional[bool]]


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
    if policy not in ("RCS_WITH_SMS_FALLBACK", "RCS_ONLY"):
        raise ValueError(f"unknown channel policy {policy!r}")
    capable = rcs_capable(e164)
    if capable:
        return Choice("RCS")
    if policy == "RCS_ONLY":
        known = "is not RCS capable" if capable is False else "has an unknown RCS capability"
        return Choice(None, suppressed="rcs_unsupported", detail=f"policy RCS_ONLY and the recipient {known}")
    return Choice("SMS", fallback_reason="rcs_not_capable" if capable is False else "rcs_capability_unknown")


def resolve(event: Event, pools: SenderPools, rcs_capable: CapabilityLookup, now: datetime,
            mms_regions: frozenset[str] = MMS_REGIONS) -> list[Output]:
    """``consent-checked`` → ``channel-resolved`` keyed by E.164 with a sticky sender, or a suppressed receipt."""
    recipient = event["recipient"]
    e164 = recipient["e164"]
    choice = choose_channel(event["channel_policy"], recipient["region"], e164, rcs_capable, mms_regions)
    if choice.channel is None:
        return [receipt(event["context"], e164, "SUPPRESSED", STAGE, now, reason=choice.suppressed, detail=choice.detail)]
    return [Output("channel-resolved", e164, {
        "context": event["context"],
        "recipient": recipient,
        "template_id": event["template_id"],
        "variables": event.get("variables") or {},
        "channel_policy": event["channel_policy"],
        "channel": choice.channel,
        "fallback_reason": choice.fallback_reason,
        "sender": pools.choose(recipient["region"], choice.channel, e164),
        "expires_at": event.get("expires_at"),
        "locale": event.get("locale"),
    })]
