"""Pure intake rules: what makes a valid request refusable, and the events an accepted one becomes.

Refusals here are the ones the caller can fix at once (a bad number, an unknown template, a missing
variable); they are the same rules the consent and render stages apply, checked up front so the
caller gets an HTTP error instead of a ``rejected`` receipt later.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Mapping

from processors.rules.idempotency import RESERVED_KEY_PREFIX
from processors.rules.numbers import Refusal, normalize
from processors.rules.zones import valid_zone
from processors.intake.models import MessageRequest, Problem
from processors.rules.sandbox import MissingVariables, RenderFailed
from processors.rules.templates import Template, language_for
from processors.rules.template_versions import Refused, resolve
from processors.runtime.stage import Event, Output

# The channels a policy can end on, as render sees them. Rendering for RCS also renders the SMS text
# (its fallback) and MMS renders the SMS text too, so these cover every text the message may use.
RENDERED_CHANNELS: dict[str, tuple[str, ...]] = {
    "RCS_WITH_SMS_FALLBACK": ("RCS",),
    "RCS_ONLY": ("RCS",),
    "SMS": ("SMS",),
    "MMS": ("MMS",),
}


def avro_policy(request: MessageRequest) -> str:
    """The Avro ``ChannelPolicy`` symbol of the request's lower-case wire value."""
    return request.channel_policy.upper()


def problems(request: MessageRequest, templates: Mapping[str, Template]) -> list[Problem]:
    """Every reason to refuse ``request``: a reserved idempotency key, a number that cannot receive SMS, an unknown template,
    a time zone that is not an IANA zone name, missing variables."""
    found: list[Problem] = []
    if request.idempotency_key is not None and request.idempotency_key.startswith(RESERVED_KEY_PREFIX):
        found.append(Problem(code="reserved_idempotency_key", field="idempotency_key",
                             message=f"idempotency keys starting with {RESERVED_KEY_PREFIX!r} are reserved for Courrier's own claims"))
    recipient = normalize(request.recipient, request.default_region)
    if isinstance(recipient, Refusal):
        found.append(Problem(code=recipient.reason, message=recipient.detail, field="recipient"))
    template = resolve(templates, request.template_id, request.template_version)
    if isinstance(template, Refused):  # unknown, or a version that is not there or is a draft (never sent)
        unknown = template.reason == "unknown_template"
        found.append(Problem(code=template.reason, message=f"no template {request.template_id!r}" if unknown else template.detail,
                             field="template_id" if unknown else "template_version",
                             known_templates=sorted(templates) if unknown else None))
        return found
    if request.time_zone is not None and not valid_zone(request.time_zone):
        found.append(Problem(code="invalid_time_zone", message=f"{request.time_zone!r} is not an IANA time zone (e.g. Europe/Paris)",
                             field="time_zone"))
    region = None if isinstance(recipient, Refusal) else recipient["region"]
    found.extend(_render_problems(request, template, language_for(request.locale, region or "")))
    return found


def _render_problems(request: MessageRequest, template: Template, language: str | None) -> list[Problem]:
    """Render as the render stage will, so a ``default`` filter makes a variable optional exactly as it does there."""
    missing: list[str] = []
    for channel in RENDERED_CHANNELS[avro_policy(request)]:
        try:
            template.render(request.variables, language, channel)
        except MissingVariables as exc:
            missing.extend(exc.names)
        except RenderFailed as exc:
            return [Problem(code="render_failed", message=f"template {template.id!r} does not render: {exc}", field="variables")]
    if not missing:
        return []
    names = list(dict.fromkeys(missing))
    return [Problem(code="missing_variables", message=f"template {template.id!r} needs {', '.join(names)}", field="variables",
                    missing_variables=names)]


def new_message_id() -> str:
    """A fresh message id (a UUID, never empty): assigned once, here, and carried unchanged through the chain. HTTP callers
    cannot choose it (the request model has no such field and refuses unknown ones)."""
    return str(uuid.uuid4())


def send_requested(request: MessageRequest, message_id: str, now: datetime, source: str, api_key_id: str | None = None) -> Output:
    """The ``send-requested`` record of an accepted request, keyed by the recipient as given (as the topology says).

    ``api_key_id`` names the API key that sent it; the context carries it to every later event and receipt.
    """
    value: Event = {
        "context": {
            "message_id": message_id, "idempotency_key": request.idempotency_key, "campaign_id": request.campaign_id,
            "variant": request.variant, "lane": request.lane.upper(), "subscription_group": request.subscription_group,
            "requested_at": now, "source": source, "api_key_id": api_key_id, "status_callback": request.status_callback,
        },
        "recipient": request.recipient, "default_region": request.default_region, "template_id": request.template_id,
        "template_version": request.template_version,
        "variables": dict(request.variables), "channel_policy": avro_policy(request), "send_at": request.send_at,
        "validity_seconds": request.validity, "locale": request.locale, "time_zone": request.time_zone,
        "sms_fallback_after_s": request.sms_fallback_after_s,
    }
    return Output("send-requested", request.recipient, value)
