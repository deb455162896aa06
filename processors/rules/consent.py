"""Consent as every stage reads it: the key of a recipient's consent for a group, and what a message relies on.

The consent stage decides with these before anything is rendered; dispatch asks again, as the tables stand at the
submit; the keywords stage writes consent under the same key.
"""
from __future__ import annotations

from typing import Mapping

from processors.rules.numbers import Refusal
from processors.runtime.stage import Event

# Refusals that reject the request itself (it can never go) rather than suppress it (the recipient's choice).
REJECTING_REASONS = frozenset({"missing_subscription_group"})
# A template declared `purpose = "marketing"` sent on the transactional lane, where no opt-in is checked.
MARKETING_ON_TRANSACTIONAL = "marketing_template_on_transactional_lane"


def consent_key(e164: str, subscription_group: str) -> str:
    """Key of the compacted ``consent`` topic and of the consent view (and of the ``frequency`` topic)."""
    return f"{e164}|{subscription_group}"


def consent_basis(context: Event, e164: str, consents: Mapping[str, Event], template_id: str | None = None) -> str | Refusal:
    """What the message relies on, or why it may not be sent: ``opt-in:<source>@<changed_at>`` for marketing;
    ``transactional:<template id>`` for the transactional lane, naming the template whose purpose is the basis (the
    consent stage refuses a marketing template there first), or plain ``transactional`` when no template is given."""
    if context["lane"] == "TRANSACTIONAL":
        return f"transactional:{template_id}" if template_id else "transactional"
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
