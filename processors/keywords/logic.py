"""Pure keyword rules: an ``inbound`` message and the keyword book → consent changes and one auto-reply.

- opt-out / opt-in: a ``ConsentChange`` (basis MARKETING, source ``keyword``) for every group the keyword
  applies to — a group's own keyword: that group; any other: every group the sender lists — written to
  the compacted ``consent`` topic (key ``E164|group``) and to ``consent-history`` (key E.164, kept forever), with the
  inbound message's provider id; a fuzzy or free-text opt-out is flagged ``needs_review`` (``courrier consent review``);
- every keyword, help included: a TRANSACTIONAL ``send-requested`` of template ``keyword_reply`` to the
  number, whose message id is derived from the inbound message so a replay never sends it twice; its variables
  carry the sender's brand and help and the stored copies of the message's media (``media_url``, ``media_urls``);
- any other text: nothing at all (conversations are not this stage's business).
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from processors.rules.consent import consent_key
from processors.keywords.book import KeywordBook, Sender
from processors.keywords.match import Match, match
from processors.runtime.stage import Event, Output

REPLY_TEMPLATE = "keyword_reply"
SOURCE = "keyword"
REPLY_SOURCE = "keywords"
STAGE = "keywords"  # recorded_by of the consent changes it writes
# Fixed namespace of reply message ids: uuid5(REPLY_NAMESPACE, <inbound identity>) is the same on every replay.
REPLY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://courrier.example/keyword-reply")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MILLISECOND = timedelta(milliseconds=1)


def sender_e164(raw: str) -> tuple[str, str | None]:
    """The sender's number in the E.164 form consent keys use, and its region; unparseable numbers are kept as given."""
    try:
        parsed = phonenumbers.parse(raw, None)
    except NumberParseException:
        return raw, None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164), phonenumbers.region_code_for_number(parsed)


def reply_message_id(event: Event, e164: str) -> str:
    """The auto-reply's id: from the provider's id for the inbound message, else from number, sender and time received."""
    if event.get("provider_message_id"):
        name = f"{event['provider']}|{event['provider_message_id']}"
    else:
        millis = (event["received_at"] - _EPOCH) // _MILLISECOND
        name = f"{e164}|{event['to_sender_id']}|{millis}"
    return str(uuid.uuid5(REPLY_NAMESPACE, name))


def evidence(event: Event, found: Match) -> str:
    """What a consent change rests on, as one JSON object: the text received, what matched, whether fuzzily, to whom."""
    return json.dumps({"text": event["text"], "matched": found.matched, "fuzzy": found.fuzzy, "language": found.language,
                       "sender_id": event["to_sender_id"]}, ensure_ascii=False, sort_keys=True)


def consent_changes(event: Event, found: Match, sender: Sender, e164: str) -> list[Output]:
    """The ``consent`` and ``consent-history`` records of an opt-out or opt-in; none for help."""
    if found.kind not in ("opt_out", "opt_in"):
        return []
    outputs: list[Output] = []
    for group in (found.group,) if found.group else sender.groups:
        change: Event = {
            "e164": e164, "subscription_group": group, "status": "OPTED_OUT" if found.kind == "opt_out" else "OPTED_IN",
            "basis": "MARKETING", "source": SOURCE, "evidence": evidence(event, found), "changed_at": event["received_at"],
            "text_shown": None, "ip_address": None, "inbound_message_id": event.get("provider_message_id"),
            "recorded_by": STAGE, "needs_review": found.fuzzy,
        }
        outputs += [Output("consent", consent_key(e164, group), change), Output("consent-history", e164, change)]
    return outputs


def media_variables(event: Event) -> dict[str, str]:
    """Our stored copies of the inbound message's media for the reply template (``processors.webhooks.inbound_media``):
    ``media_url`` the first, ``media_urls`` all of them space-separated; both "" when nothing was stored."""
    stored = [url for url in event.get("stored_media_urls") or () if url]
    return {"media_url": stored[0] if stored else "", "media_urls": " ".join(stored)}


def auto_reply(event: Event, found: Match, sender: Sender, e164: str, validity_seconds: int) -> Output:
    """The confirmation or help text, as a TRANSACTIONAL request (it must reach even a number that just opted out)."""
    return Output("send-requested", e164, {
        "context": {
            "message_id": reply_message_id(event, e164), "idempotency_key": None, "campaign_id": None, "variant": None,
            "lane": "TRANSACTIONAL", "subscription_group": None, "requested_at": event["received_at"], "source": REPLY_SOURCE,
        },
        "recipient": e164, "default_region": None, "template_id": REPLY_TEMPLATE,
        "variables": {"kind": found.kind, "brand": sender.brand, "help": sender.help, **media_variables(event)},
        "channel_policy": "SMS", "send_at": None, "validity_seconds": validity_seconds,
        # The language the keyword was said in; None lets render pick the number's country language.
        "locale": found.language,
    })


def handle(event: Event, book: KeywordBook) -> list[Output]:
    """``inbound`` → consent changes and an auto-reply when the text is a keyword, else no output."""
    e164, region = sender_e164(event["from_e164"])
    found = match(book, event["text"], event["to_sender_id"], region)
    if found is None:
        return []
    sender = book.sender(event["to_sender_id"])
    return [*consent_changes(event, found, sender, e164), auto_reply(event, found, sender, e164, book.reply_validity_seconds)]

