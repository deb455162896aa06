"""Pure channel rules: which channel each policy gives a recipient, and why when it differs from what was asked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from processors.channel.senders import SenderPools
from processors.receipts import receipt
from processors.runtime.stage import Event, Output

STAGE = "channel"
MMS_REGIONS = frozenset({"US", "CA"})

# e164 → True (RCS capable), False (not capable), None (unknown: no RCS provider answered)
CapabilityLookup = Callable[[str], "bool | None"]


def no_rcs_provider(_e164: str) -> bool | None:
    """The capability lookup when no RCS provider is configured: nothing is known."""
    return None


@dataclass(frozen=True)
class Choice:
    """A channel, or a suppression reason when the policy allows no channel."""

    channel: str | None
    fallback_reason: str | None = None
    suppressed: str | None = None


def choose_channel(policy: str, region: str, e164: str, rcs_capable: CapabilityLookup, mms_regions: frozenset[str] = MMS_REGIONS) -> Choice:
    """Apply a channel policy: RCS with SMS fallback, RCS only (after a capability test), SMS, or MMS where it works."""
    if policy == "SMS":
        return Choice("SMS")
    if policy == "MMS":
        return Choice("MMS") if region in mms_regions else Choice("SMS", fallback_reason="mms_unsupported_in_region")
    capable = rcs_capable(e164)
    if policy == "RCS_ONLY":
        return Choice("RCS") if capable else Choice(None, suppressed="rcs_unsupported")
    if capable:
        return Choice("RCS")
    return Choice("SMS", fallback_reason="rcs_not_capable" if capable is False else "rcs_capability_unknown")


def resolve(event: Event, pools: SenderPools, rcs_capable: CapabilityLookup, now: datetime,
            mms_regions: frozenset[str] = MMS_REGIONS) -> list[Output]:
    """``consent-checked`` → ``channel-resolved`` with a sticky sender, or a suppressed receipt."""
    recipient = event["recipient"]
    e164 = recipient["e164"]
    choice = choose_channel(event["channel_policy"], recipient["region"], e164, rcs_capable, mms_regions)
    if choice.channel is None:
        return [receipt(event["context"], e164, "SUPPRESSED", STAGE, now, reason=choice.suppressed,
                        detail=f"policy {event['channel_policy']} and the recipient is not known to be RCS capable")]
    return [Output("channel-resolved", e164, {
        "context": event["context"], "recipient": recipient, "template_id": event["template_id"], "variables": event.get("variables") or {},
        "channel_policy": event["channel_policy"], "channel": choice.channel, "fallback_reason": choice.fallback_reason,
        "sender": pools.choose(recipient["region"], choice.channel, e164), "expires_at": event.get("expires_at"), "locale": event.get("locale"),
    })]
