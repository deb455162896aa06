"""Pure render rules: the template's text in the recipient's language, its exact SMS encoding, and the RCS payload."""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from processors.receipts import receipt
from processors.render.segments import count
from processors.render.templates import MissingVariables, Template, language_for
from processors.runtime.stage import Event, Output

STAGE = "render"
MAX_SMS_SEGMENTS = 10  # longer texts cost more than they are worth and some carriers drop them


def sms_content(text: str) -> Event:
    """The ``SmsContent`` record of a final text."""
    info = count(text)
    return {"text": text, "encoding": info.encoding, "segments": info.segments, "units": info.units}


def render_message(event: Event, templates: Mapping[str, Template], now: datetime) -> list[Output]:
    """``channel-resolved`` → ``rendered`` keyed by sender, or a rejected receipt naming what is wrong."""
    context, recipient = event["context"], event["recipient"]
    e164 = recipient["e164"]
    template = templates.get(event["template_id"])
    if template is None:
        return [receipt(context, e164, "REJECTED", STAGE, now, reason="unknown_template",
                        detail=f"no template {event['template_id']!r}; known: {', '.join(sorted(templates)) or 'none'}")]
    variables = event.get("variables") or {}
    try:
        sms = sms_content(template.sms_text(variables, language_for(event.get("locale"), recipient["region"])))
        rcs = template.rcs_json(variables) if event["channel"] == "RCS" else None
    except MissingVariables as exc:
        return [receipt(context, e164, "REJECTED", STAGE, now, reason="missing_variables",
                        detail=f"template {template.id} v{template.version} needs: {', '.join(exc.names)}")]
    if sms["segments"] > MAX_SMS_SEGMENTS:
        return [receipt(context, e164, "REJECTED", STAGE, now, reason="sms_too_long",
                        detail=f"{sms['segments']} segments ({sms['encoding']}), the limit is {MAX_SMS_SEGMENTS}")]
    return [Output("rendered", event["sender"]["sender_id"], {
        "context": context, "recipient": recipient, "channel": event["channel"], "fallback_reason": event.get("fallback_reason"),
        "sender": event["sender"], "template_id": template.id, "sms": sms, "rcs_json": rcs, "media_urls": [],
        "expires_at": event.get("expires_at"),
    })]
