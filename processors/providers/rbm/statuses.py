"""RBM's words in Courrier's terms: the events its webhook posts, and the error statuses of its API.

Webhook events are published as they came (``raw_status`` is RBM's ``eventType``); the receipt stage maps them with
its HTTP table (``processors.receipt.statuses.HTTP_STATUS``), which holds the words below. ``EVENT_STATUS`` is the
table this provider promises, and a test checks the receipt stage maps every word to it.

| eventType                    | status  | terminal | why                                                                 |
|------------------------------|---------|----------|---------------------------------------------------------------------|
| DELIVERED                    | DELIVERED | yes    | the user's RCS client has the message                               |
| READ                         | READ    | no       | engagement, after the outcome (a READ_REPORT record)                |
| TTL_EXPIRATION_REVOKED       | EXPIRED | yes      | server event: the message's expireTime came and RBM revoked it     |
|                              |         |          | undelivered (an SMS fallback follows, as on any failed RCS report)  |
| TTL_EXPIRATION_REVOKE_FAILED | SENT    | no       | server event: expired but not revoked; a DELIVERED may still come, |
|                              |         |          | so it proves nothing (the deadline still ends the message)          |
| CLICKED                      | CLICKED | no       | Courrier's word for a user tapping one of the message's suggestions |
|                              |         |          | (a ``suggestionResponse`` whose postbackData names the message)     |

``IS_TYPING`` is accepted and writes nothing: a user typing says nothing about a message we sent. A user's ``text``
is an ``inbound`` record (the keywords stage reads it), not a status.

API errors (the ``error.status`` of a refused request, google.rpc.Code names) → the reason a failed receipt carries
(``API_ERRORS``); see ``adapter`` for which answers are transient.
"""
from __future__ import annotations

# eventType → (Courrier status, reason); see the table above.
EVENT_STATUS: dict[str, tuple[str, str | None]] = {
    "DELIVERED": ("DELIVERED", None),
    "READ": ("READ", None),
    "TTL_EXPIRATION_REVOKED": ("EXPIRED", "rcs_ttl_expired"),
    "TTL_EXPIRATION_REVOKE_FAILED": ("SENT", "rcs_revoke_failed"),
    "CLICKED": ("CLICKED", None),
}
CLICKED = "CLICKED"
READ = "READ"
# User events that say nothing about a message of ours.
IGNORED_EVENTS = frozenset({"IS_TYPING"})
# Server events (``ServerEvent``): RBM names the recipient ``phoneNumber`` in them, not ``senderPhoneNumber``.
SERVER_EVENTS = frozenset({"TTL_EXPIRATION_REVOKED", "TTL_EXPIRATION_REVOKE_FAILED"})

# error.status of a refused send → the reason of its failed receipt.
API_ERRORS: dict[str, str] = {
    "NOT_FOUND": "rcs_not_capable",          # the user is not RCS-capable or not reachable by this agent
    "INVALID_ARGUMENT": "invalid_request",   # the message is malformed (content, messageId, phone number)
    "FAILED_PRECONDITION": "provider_rejected",
    "OUT_OF_RANGE": "invalid_request",
}


def api_reason(status: str | None) -> str:
    """The reason a refusal with RBM's ``error.status`` gives a failed receipt; unknown ones are ``provider_rejected``."""
    return API_ERRORS.get(status or "", "provider_rejected")
