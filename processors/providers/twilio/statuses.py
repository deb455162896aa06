"""Twilio's words in Courrier's terms: the ``MessageStatus`` of a status callback, and the error codes of the REST API.

Status callbacks are published as they came (``raw_status`` is Twilio's word, e.g. ``delivered``); the receipt stage
maps them with its HTTP table (``processors.receipt.statuses.HTTP_STATUS``, upper-cased word), which holds Twilio's
words beside the simulator's. ``MESSAGE_STATUS`` below is the table this provider promises, and a test checks that
the receipt stage maps every word to it; callback ``ErrorCode`` values (300xx) name the reason through the receipt
stage's ``HTTP_ERRORS``.

| MessageStatus        | status              | terminal | why                                                        |
|----------------------|---------------------|----------|------------------------------------------------------------|
| accepted             | SENT                | no       | a Messaging Service took it and is choosing a sender       |
| scheduled            | SENT                | no       | waiting for its send time at Twilio (we never schedule)    |
| queued               | SENT                | no       | in Twilio's outgoing queue                                 |
| sending              | SENT                | no       | being handed to the carrier                                |
| sent                 | SENT                | no       | the carrier took it                                        |
| delivered            | DELIVERED           | yes      | the carrier says the handset has it                        |
| partially_delivered  | PARTIALLY_DELIVERED | yes      | some parts delivered                                       |
| undelivered          | UNDELIVERED         | yes      | the carrier gave up (ErrorCode says why)                   |
| failed               | FAILED              | yes      | Twilio could not send it (ErrorCode says why)              |
| canceled             | FAILED              | yes      | cancelled before it left Twilio                            |
| read                 | READ                | no       | engagement, after the outcome (RCS/WhatsApp read receipts) |

REST API refusals (the JSON ``code`` of a 4xx answer): ``API_ERRORS`` gives the reason a ``failed`` receipt carries;
``TRANSIENT_CODES`` are refusals that may pass (queue full, throttled): the message is tried again later.
"""
from __future__ import annotations

# MessageStatus → (Courrier status, reason); see the table above.
MESSAGE_STATUS: dict[str, tuple[str, str | None]] = {
    "accepted": ("SENT", None),
    "scheduled": ("SENT", None),
    "queued": ("SENT", None),
    "sending": ("SENT", None),
    "sent": ("SENT", None),
    "delivered": ("DELIVERED", None),
    "partially_delivered": ("PARTIALLY_DELIVERED", None),
    "undelivered": ("UNDELIVERED", "undeliverable"),
    "failed": ("FAILED", "provider_failed"),
    "canceled": ("FAILED", "canceled_at_provider"),
    "read": ("READ", None),
}

# Statuses of a message someone sent us: an inbound webhook may carry them; they are never a report on our message.
INBOUND_STATUSES = frozenset({"receiving", "received"})

# REST API error code → the reason of the failed receipt (https://www.twilio.com/docs/api/errors).
API_ERRORS: dict[str, str] = {
    "21211": "invalid_destination",       # invalid 'To' number
    "21214": "invalid_destination",       # 'To' number cannot be reached
    "21408": "region_not_enabled",        # the account may not send to that region
    "21602": "invalid_request",           # body required
    "21606": "invalid_sender",            # 'From' is not a number of this account able to send
    "21610": "recipient_unsubscribed",    # the recipient replied STOP to this sender: Twilio blocks it
    "21612": "unroutable_destination",    # no route from this sender to that number
    "21614": "not_a_mobile_number",       # 'To' is a landline or not SMS-capable
    "21617": "body_too_long",             # over 1600 characters
    "21620": "invalid_media",             # a MediaUrl Twilio refuses
    "21659": "invalid_sender",            # 'From' is not a Twilio number
    "30007": "filtered_by_carrier",
    "63038": "account_daily_limit",       # the account's daily message limit
}

# Refusals that prove Twilio is up and say "later": the 'From' queue is full, too many requests.
TRANSIENT_CODES = frozenset({"21611", "20429", "14107", "63038"})


def api_reason(code: str | None) -> str:
    """The reason a refusal with Twilio's ``code`` gives a failed receipt; unknown codes are ``provider_rejected``."""
    return API_ERRORS.get(code or "", "provider_rejected")
