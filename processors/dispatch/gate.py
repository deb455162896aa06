"""The last check before a message leaves: its recipient's consent and its campaign, as they stand at submit time.

The consent stage checked consent when the request came in; a STOP or a campaign cancel may arrive
while the message waits in ``rendered``, in a pacing hold or in the retry topic. Dispatch asks this
right before writing SUBMITTING and submitting, against the compacted ``consent`` and ``campaigns``
topics read into memory (``TopicTable``), so what is in the tables then is what decides.
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from processors.rules.consent import REJECTING_REASONS, consent_basis
from processors.rules.numbers import Refusal
from processors.receipts import receipt
from processors.runtime.stage import Event, Output

STAGE = "dispatch"


def refusal(context: Event, e164: str, consents: Mapping[str, Event], campaigns: Mapping[str, Event]) -> Refusal | None:
    """Why this message must not leave now, or None. A cancelled campaign stops every lane; consent is the consent
    stage's own rule (a marketing message needs an opt-in for its group; transactional ones, like a STOP confirmation, pass)."""
    campaign_id = context.get("campaign_id")
    control = campaigns.get(campaign_id) if campaign_id else None
    if control is not None and control["state"] == "CANCELLED":
        by = f" by {control['changed_by']}" if control.get("changed_by") else ""
        return Refusal("campaign_cancelled", f"campaign {campaign_id!r} was cancelled{by} at {control['changed_at'].isoformat()}")
    basis = consent_basis(context, e164, consents)
    return basis if isinstance(basis, Refusal) else None


def check(event: Event, consents: Mapping[str, Event], campaigns: Mapping[str, Event], now: datetime) -> Output | None:
    """The terminal receipt of a rendered message that must not be submitted (``suppressed``), or None to let it go."""
    e164 = event["recipient"]["e164"]
    found = refusal(event["context"], e164, consents, campaigns)
    if found is None:
        return None
    status = "REJECTED" if found.reason in REJECTING_REASONS else "SUPPRESSED"
    return receipt(event["context"], e164, status, STAGE, now, reason=found.reason,
                   detail=f"{found.detail} (checked before submit)", channel=event["channel"])
