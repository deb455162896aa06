"""Pure consent rules: a usable number, a message still worth sending, and the consent it relies on.

Quiet hours, keywords, idempotency and frequency caps are not decided here yet.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Mapping

from processors.consent.numbers import Refusal, normalize
from processors.receipts import receipt
from processors.runtime.stage import Event, Output

STAGE = "consent"
# Reasons that are the caller's mistake (REJECTED) rather than the recipient's choice (SUPPRESSED).
REJECTING_REASONS = frozenset({"missing_subscription_group"})


def expiry(event: Event) -> datetime | None:
    """When the message stops being worth sending: ``requested_at + validity_seconds``, or never."""
    seconds = event.get("validity_seconds")
    return None if seconds is None else event["context"]["requested_at"] + timedelta(seconds=seconds)


def consent_key(e164: str, subscription_group: str) -> str:
    """Key of the compacted ``consent`` topic and of the consent view."""
    return f"{e164}|{subscription_group}"


def consent_basis(context: Event, e164: str, consents: Mapping[str, Event]) -> str | Refusal:
    """What the message relies on (``transactional`` or ``opt-in:<source>@<changed_at>``), or why it may not be sent."""
    if context["lane"] == "TRANSACTIONAL":
        return "transactional"
    group = context.get("subscription_group")
    if not group:
        return Refusal("missing_subscription_group", "a marketing message must name the subscription group whose consent it relies on")
    state = consents.get(consent_key(e164, group))
    if state is None:
        return Refusal("no_consent", f"no opt-in recorded for subscription group {group!r}")
    since = f"via {state['source']} at {state['changed_at'].isoformat()}"
    if state["status"] != "OPTED_IN":
        return Refusal("opted_out", f"opted out of subscription group {group!r} {since}")
    return f"opt-in:{state['source']}@{state['changed_at'].isoformat()}"


def check(event: Event, consents: Mapping[str, Event], now: datetime) -> list[Output]:
    """``send-requested`` → ``consent-checked`` keyed by E.164, or one terminal receipt saying why not."""
    context = event["context"]
    recipient = normalize(event["recipient"], event.get("default_region"))
    if isinstance(recipient, Refusal):
        return [receipt(context, event["recipient"], "REJECTED", STAGE, now, reason=recipient.reason, detail=recipient.detail)]
    e164 = recipient["e164"]
    expires_at = expiry(event)
    if expires_at is not None and expires_at <= now:
        return [receipt(context, e164, "EXPIRED", STAGE, now, reason="validity_elapsed",
                        detail=f"validity ended at {expires_at.isoformat()}, before the consent check")]
    basis = consent_basis(context, e164, consents)
    if isinstance(basis, Refusal):
        status = "REJECTED" if basis.reason in REJECTING_REASONS else "SUPPRESSED"
        return [receipt(context, e164, status, STAGE, now, reason=basis.reason, detail=basis.detail)]
    return [Output("consent-checked", e164, {
        "context": context,
        "recipient": recipient,
        "template_id": event["template_id"],
        "variables": event.get("variables") or {},
        "channel_policy": event["channel_policy"],
        "expires_at": expires_at,
        "locale": event.get("locale"),
        "consent_basis": basis,
    })]
