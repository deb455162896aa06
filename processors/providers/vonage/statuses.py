"""Vonage's words in Courrier's terms: the ``status`` of a Messages API status webhook, and the Messages API's error
codes (https://developer.vonage.com/api-errors/messages).

Status webhooks are published as they came (``raw_status`` is Vonage's word, e.g. ``delivered``); the receipt stage
maps them with its HTTP table (``processors.receipt.statuses.HTTP_STATUS``, upper-cased word), which holds Vonage's
words beside the simulator's and Twilio's. ``MESSAGE_STATUS`` below is the table this provider promises, and a test
checks that the receipt stage maps every word to it. A webhook's ``error`` names its code in ``title`` (and in the
fragment of ``type``): the receipt stage's ``HTTP_ERRORS`` turns it into the reason.

| status        | status    | terminal | why (Vonage's status callback documentation)                         |
|---------------|-----------|----------|----------------------------------------------------------------------|
| submitted     | SENT      | no       | Vonage passed the message on to the carrier (SMS is charged here)     |
| delivered     | DELIVERED | yes      | the carrier says the handset has it                                  |
| rejected      | REJECTED  | yes      | Vonage or the carrier refused it (``error`` says why)                 |
| undeliverable | FAILED    | yes      | Vonage could not reach the carrier to hand it over (provider outage) |
| read          | READ      | no       | engagement, after the outcome (OTT and RCS channels only)            |

Send refusals are RFC 7807 problems (``type``, ``title``, ``detail``, ``instance``): the code is the fragment of
``type`` (``…/api-errors/messages#1240`` → ``1240``, ``…/api-errors#unauthorized`` → ``unauthorized``). ``ERRORS``
gives the reason a failed receipt carries; ``TRANSIENT_CODES`` are refusals that say "later".
"""
from __future__ import annotations

from typing import Any

# status → (Courrier status, reason); see the table above.
MESSAGE_STATUS: dict[str, tuple[str, str | None]] = {
    "submitted": ("SENT", None),
    "delivered": ("DELIVERED", None),
    "rejected": ("REJECTED", "rejected_by_provider"),
    "undeliverable": ("FAILED", "undeliverable_at_provider"),
    "read": ("READ", None),
}

# Messages API error code → the reason of a failed receipt (the same codes name send refusals and webhook errors).
ERRORS: dict[str, str] = {
    "1010": "invalid_request",            # missing params
    "1020": "invalid_request",            # invalid params
    "1040": "invalid_destination",        # unrecognised number prefix
    "1050": "recipient_barred",           # the number is blacklisted
    "1060": "account_suspended",          # the account is barred from submitting
    "1070": "account_out_of_credit",      # pre-paid account without credit
    "1120": "invalid_sender",             # sender id refused by local regulations
    "1130": "invalid_request",            # invalid ttl
    "1160": "destination_not_allowed",    # not in the account's pre-approved destinations
    "1170": "invalid_destination",        # invalid or missing 'to'
    "1180": "unreachable_handset",        # absent subscriber, temporary
    "1190": "unknown_handset",            # absent subscriber, permanent
    "1210": "filtered_by_carrier",        # anti-spam rejection
    "1220": "unreachable_handset",        # handset busy
    "1240": "recipient_unsubscribed",     # the recipient sent STOP to this sender
    "1250": "unroutable_destination",     # no route to that number from this sender
    "1260": "unreachable_destination",
    "1270": "filtered_by_carrier",        # age restriction
    "1280": "blocked_by_carrier",
    "1290": "recipient_out_of_credit",    # the recipient's pre-paid account
    "1330": "unknown_error",              # an unknown carrier error
    "1360": "expired_in_network",         # the ttl ran out before delivery
}

# Refusals that prove Vonage is up and say "later": throttled, too many requests to numbers.
TRANSIENT_CODES = frozenset({"1000", "1241"})


def error_code(problem: Any) -> str | None:
    """The code of an RFC 7807 problem or a webhook's ``error``: the fragment of ``type``, else ``title`` when it is a
    number (webhooks send it as one); None when neither says."""
    if not isinstance(problem, dict):
        return None
    kind = problem.get("type")
    if isinstance(kind, str) and "#" in kind and kind.rsplit("#", 1)[1].strip():
        return kind.rsplit("#", 1)[1].strip()[:40]
    title = problem.get("title")
    if (isinstance(title, int) and not isinstance(title, bool)) or (isinstance(title, str) and title.strip().isdigit()):
        return str(title).strip()
    return None


def reason(code: str | None) -> str:
    """The reason a refusal with Vonage's ``code`` gives a failed receipt; unknown codes are ``provider_rejected``."""
    return ERRORS.get(code or "", "provider_rejected")
