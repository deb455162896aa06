"""Pure campaign rules: one audience row → one ``send-requested`` event, with ids a re-run reproduces.

A row's recipient key is its E.164 number when the number parses, else the text as given
(trimmed). The idempotency key and the A/B variant derive from (campaign id, recipient key), the
message id from those and the row's index, so sending the same audience again under the same
campaign id repeats the same messages with the same variants. One person listed twice gets two
message ids under one idempotency key: the consent stage ends the second in a ``duplicate``
receipt, and no message id ever travels the chain twice within one send.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from processors.campaigns.rollout import Slice
from processors.campaigns.variants import VariantPlan
from processors.rules.zones import valid_zone
from processors.intake.logic import RENDERED_CHANNELS
from processors.rules.sandbox import MissingVariables, RenderFailed
from processors.rules.templates import Template
from processors.runtime.stage import Event, Output

# Columns that say how to reach the recipient; every other column is a template variable. A time_zone column overrides
# the zone consent would take from the number (quiet hours); an unknown one is counted here and rejected by consent.
RECIPIENT, REGION, LOCALE, TIME_ZONE = "recipient", "region", "locale", "time_zone"
RESERVED_COLUMNS = frozenset({RECIPIENT, REGION, LOCALE, TIME_ZONE})
SOURCE = "campaign"
# uuid5 namespace of campaign message ids (a fixed uuid4, so the ids are Courrier's own).
MESSAGE_ID_NAMESPACE = uuid.UUID("6f1d3c3e-2f55-4d0e-9d0a-6b1c8f0b7a21")
REGION_CODE = re.compile(r"[A-Za-z]{2}")


@dataclass(frozen=True)
class CampaignSpec:
    """What every message of one campaign shares; ``policy`` and ``lane`` are Avro symbols."""

    campaign_id: str
    template_id: str
    policy: str
    lane: str = "MARKETING"
    subscription_group: str | None = None
    variants: VariantPlan | None = None
    send_at: datetime | None = None
    validity_seconds: int | None = None
    default_region: str | None = None
    sms_fallback_after_s: int | None = None  # for the rows whose policy is RCS_WITH_SMS_FALLBACK
    sample: Slice | None = None  # a progressive rollout's step: only the recipients placed in it are sent


@dataclass(frozen=True)
class RowEvent:
    """A row's ``send-requested`` output, its variant name, and what looked wrong in it (the row is sent anyway)."""

    output: Output
    variant: str | None
    problems: tuple[str, ...]


def message_id(campaign_id: str, recipient_key: str, row_index: int) -> str:
    """The message id of a row of a campaign's audience: a UUID (version 5) of the three, the same on every run."""
    return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{campaign_id}\x1f{recipient_key}\x1f{row_index}"))


def idempotency_key(campaign_id: str, recipient_key: str) -> str:
    """The idempotency key of a recipient in a campaign: readable, and the same on every run."""
    return f"campaign:{campaign_id}:{recipient_key}"


def _text(value: str | None) -> str | None:
    """A cell's text, or None when it is empty (an empty cell is an absent value, so a template's ``default`` applies)."""
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def recipient_key(recipient: str, region: str | None) -> tuple[str, str | None]:
    """The E.164 form of a number that parses, else the text as given; and what is wrong with it, if anything.

    Only parsing and the length check: the rest (validity, line type) is the consent stage's, which
    rejects such numbers with a receipt; this costs half as much, and 1M rows feel it.
    """
    try:
        parsed = phonenumbers.parse(recipient, region)
    except NumberParseException as exc:
        problem = "unknown_region" if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE else "unparseable_number"
        return recipient.strip(), problem
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    return e164, None if phonenumbers.is_possible_number(parsed) else "impossible_number"


def row_event(spec: CampaignSpec, row: Mapping[str, str | None], row_index: int, now: datetime) -> RowEvent | None:
    """The ``send-requested`` record of the audience's ``row_index``-th data row (from 0), keyed by the recipient as given
    (as the topology says); None when ``spec.sample`` leaves the row's recipient out (``rollout``)."""
    recipient = row.get(RECIPIENT) or ""
    region = _text(row.get(REGION)) or spec.default_region
    locale = _text(row.get(LOCALE))
    time_zone = _text(row.get(TIME_ZONE))
    problems: list[str] = []
    if not recipient.strip():
        problems.append("missing_recipient")
    if region is not None and not REGION_CODE.fullmatch(region):
        problems.append("bad_region")
        region = spec.default_region
    region = region.upper() if region else None
    key, problem = recipient_key(recipient, region)
    if problem is not None and recipient.strip():
        problems.append(problem)
    if spec.sample is not None and not spec.sample.holds(spec.campaign_id, key):
        return None
    if time_zone is not None and not valid_zone(time_zone):
        problems.append("unknown_time_zone")
    variant = spec.variants.assign(spec.campaign_id, key) if spec.variants else None
    variables = {name: value for name, value in row.items() if name not in RESERVED_COLUMNS and value is not None and value.strip()}
    policy = (variant.policy if variant else None) or spec.policy
    value: Event = {
        "context": {
            "message_id": message_id(spec.campaign_id, key, row_index), "idempotency_key": idempotency_key(spec.campaign_id, key),
            "campaign_id": spec.campaign_id, "variant": variant.name if variant else None, "lane": spec.lane,
            "subscription_group": spec.subscription_group, "requested_at": now, "source": SOURCE,
        },
        "recipient": recipient, "default_region": region,
        "template_id": (variant.template_id if variant else None) or spec.template_id, "variables": variables,
        "channel_policy": policy, "send_at": spec.send_at,
        "validity_seconds": spec.validity_seconds, "locale": locale, "time_zone": time_zone,
        "sms_fallback_after_s": spec.sms_fallback_after_s if policy == "RCS_WITH_SMS_FALLBACK" else None,
    }
    return RowEvent(Output("send-requested", recipient, value), variant.name if variant else None, tuple(problems))


def control_record(campaign_id: str, state: str, now: datetime, *, template_id: str | None = None, audience: str | None = None,
                   variants: Mapping[str, float] | None = None, changed_by: str | None = None,
                   rollout_percent: float | None = None, spec: str | None = None) -> Output:
    """The compacted ``campaigns`` record of a campaign's state (``ACTIVE`` or ``CANCELLED``), keyed by its id; a rollout's
    share sent so far and the campaign's settings (``saved.dump``) when known."""
    return Output("campaigns", campaign_id, {
        "campaign_id": campaign_id, "state": state, "template_id": template_id, "audience": audience,
        "variants": dict(variants or {}), "changed_by": changed_by, "changed_at": now,
        "rollout_percent": rollout_percent, "spec": spec,
    })


def columns_missing(template: Template, policy: str, columns: Iterable[str]) -> list[str]:
    """The variables ``template`` needs (in any of its languages, on every channel ``policy`` can end on) that no column gives.

    Rendered with a placeholder in every variable column, as render will with a row's values; a
    ``default`` filter makes a variable optional here exactly as it does there.
    """
    placeholders = {name: "1" for name in columns if name not in RESERVED_COLUMNS}
    missing: list[str] = []
    for language in template.sms:
        for channel in RENDERED_CHANNELS[policy]:
            try:
                template.render(placeholders, None if language == "default" else language, channel)
            except MissingVariables as exc:
                missing.extend(exc.names)
            except RenderFailed:  # a filter refusing the placeholder says nothing about missing columns
                continue
    return list(dict.fromkeys(missing))
