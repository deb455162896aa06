"""Pure render rules: the template's content in the recipient's language, short links, the opt-out footer, smart and
exact SMS encoding, RCS within its limits, and MMS media (or, outside MMS regions, links to them in the SMS).

Media and links are the two effects render has beyond its outputs; both come in as arguments (a ``MediaPreparer``
that stores media, a link base), so the rules stay testable without a network."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from processors.receipts import receipt
from processors.rules.issues import Issue
from processors.render.links import Shortened, link_records, shorten
from processors.render.media import MediaPreparer
from processors.web.media_rejected import MediaRejected
from processors.rules.rcs import DEFAULT_LIMITS, RcsLimits, rcs_problems
from processors.rules.sandbox import MissingVariables, RenderFailed
from processors.render.segments import count
from processors.render.smart_encoding import smart_encode
from processors.rules.templates import Template, language_for
from processors.runtime.stage import Event, Output
from processors.rules.template_versions import Refused, resolve
from topology.topics import rendered_topic

STAGE = "render"
MAX_SMS_SEGMENTS = 10  # longer texts cost more than they are worth, and some carriers drop them
DEFAULT_FOOTERS = Path(__file__).resolve().parent / "data" / "opt_out.json"
# The channel stage's reason for an MMS request outside MMS regions: sent as SMS, its media as links in the text.
MMS_AS_SMS = "mms_unsupported_in_region"


def load_footers(path: Path = DEFAULT_FOOTERS) -> dict[str, str]:
    """Opt-out footers by region, with a ``default``; keys starting with ``_`` are comments."""
    return footers_from(json.loads(path.read_text(encoding="utf-8")), str(path))


def footers_from(raw: Mapping[str, Any], where: str = "footers") -> dict[str, str]:
    """Opt-out footers from a table already read (the configuration file's ``[footers]``)."""
    footers = {str(k): str(v) for k, v in raw.items() if not str(k).startswith("_")}
    if "default" not in footers:
        raise ValueError(f"{where}: opt-out footers need a 'default'")
    return footers


def with_footer(text: str, lane: str, region: str, footers: Mapping[str, str]) -> str:
    """A marketing text ends with its recipient country's opt-out footer; transactional texts are left alone."""
    if lane != "MARKETING":
        return text
    return f"{text}\n{footers.get(region, footers['default'])}"


def sms_content(text: str) -> Event:
    """The ``SmsContent`` record of a final text."""
    info = count(text)
    return {"text": text, "encoding": info.encoding, "segments": info.segments, "units": info.units}


def sms_text(template: Template, text: str) -> str:
    """The text as sent by SMS: smart-encoded when the template asks for it."""
    return smart_encode(text) if template.smart_encoding else text


def rcs_rejection(issues: list[Issue]) -> str:
    """The reason for RCS content that does not fit: too long when lengths are all that is wrong, else invalid."""
    return "rcs_content_too_long" if all(issue.too_long for issue in issues) else "invalid_rcs_content"


def render_message(event: Event, templates: Mapping[str, Template], footers: Mapping[str, str], now: datetime,
                   rcs_limits: RcsLimits = DEFAULT_LIMITS, *, media: MediaPreparer | None = None,
                   link_base: str | None = None) -> list[Output]:
    """``channel-resolved`` → ``rendered`` keyed by sender id (after the ``links`` records of its short links, when
    ``link_base`` is set), or a rejected receipt naming what is wrong. ``media`` stores an MMS's media; it may raise
    ``TransientError``, which the runtime retries."""
    context, recipient, channel = event["context"], event["recipient"], event["channel"]
    e164 = recipient["e164"]

    def rejected(reason: str, detail: str) -> list[Output]:
        return [receipt(context, e164, "REJECTED", STAGE, now, reason=reason, detail=detail, channel=channel)]

    # The version the request names (never a draft), else the latest published (processors.templates_store).
    template = resolve(templates, event["template_id"], event.get("template_version"))
    if isinstance(template, Refused):
        return rejected(template.reason, template.detail)
    language = language_for(event.get("locale"), recipient["region"])
    media_as_links = channel == "SMS" and event.get("fallback_reason") == MMS_AS_SMS
    try:
        content = template.render(event.get("variables") or {}, language, "MMS" if media_as_links else channel)
    except MissingVariables as exc:
        return rejected("missing_variables", f"template {template.id} v{template.version} needs: {', '.join(exc.names)}")
    except RenderFailed as exc:
        return rejected("render_failed", f"template {template.id} v{template.version}: {exc}")
    body, stored = content.sms_text, []
    try:
        if media_as_links and content.media_urls:
            body = "\n".join([body, *_stored(media, content.media_urls, 0)])
        short = shorten(body, context["message_id"], link_base) if link_base else Shortened(body, ())
        text = with_footer(short.text, context["lane"], recipient["region"], footers)
        if channel == "MMS" and content.media_urls:
            stored = _stored(media, content.media_urls, len(text.encode("utf-8")))
    except MediaRejected as exc:
        return rejected(exc.reason, f"template {template.id} v{template.version}: {exc.detail}")
    sms = sms_content(sms_text(template, text))
    if channel != "MMS" and sms["segments"] > MAX_SMS_SEGMENTS:
        return rejected("sms_too_long", f"{sms['segments']} segments ({sms['encoding']}); the limit is {MAX_SMS_SEGMENTS}")
    rcs = None
    if channel == "RCS":  # a template without an RCS section is sent as an RCS text message of its SMS text (UTF-8: not smart-encoded)
        section = content.rcs if content.rcs is not None else {"text": text}
        issues = rcs_problems(section, rcs_limits, rendered=True)
        if issues:
            return rejected(rcs_rejection(issues), f"template {template.id} v{template.version}: {'; '.join(map(str, issues))}")
        rcs = json.dumps(section, ensure_ascii=False, separators=(",", ":"))
    # The links first: a link's record is written before the message that carries it can be clicked.
    return [*link_records(short.links, event, channel, now), Output(rendered_topic(context["lane"]), event["sender"]["sender_id"], {
        "context": context,
        "recipient": recipient,
        "channel": channel,
        "fallback_reason": event.get("fallback_reason"),
        "sender": event["sender"],
        "template_id": template.id,
        "sms": sms,
        "rcs_json": rcs,
        "media_urls": stored,
        "expires_at": event.get("expires_at"),
        "sms_fallback": event.get("sms_fallback") if channel == "RCS" else None,
        "attempt": 1,
    })]


def _stored(media: MediaPreparer | None, urls: list[str], text_bytes: int) -> list[str]:
    if media is None:  # a wiring error, not bad input: the record dead-letters with this message
        raise RuntimeError("this render stage was built without a media store, so it cannot send media")
    return media(urls, text_bytes)
