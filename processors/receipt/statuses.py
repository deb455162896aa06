"""Provider statuses in Courrier's one status set, per protocol, and the one order a message's statuses move in.

SMPP ``stat`` values (SMPP 3.4 appendix B, plus ENROUTE from ``message_state``):

| stat    | status      | terminal | reason                | why                                                        |
|---------|-------------|----------|-----------------------|------------------------------------------------------------|
| DELIVRD | DELIVERED   | yes      | –                     | the handset has it                                         |
| UNDELIV | UNDELIVERED | yes      | undeliverable         | the network gave up on the handset (absent, barred, full)  |
| EXPIRED | EXPIRED     | yes      | expired_in_network    | the validity period ran out in the SMSC                    |
| REJECTD | REJECTED    | yes      | rejected_by_network   | the SMSC or a carrier refused it (content, sender, route)  |
| DELETED | FAILED      | yes      | deleted_by_smsc       | cancelled or purged inside the SMSC: our side's failure    |
| UNKNOWN | FAILED      | yes      | unknown_final_state   | a final state the SMSC cannot tell: nothing proves delivery|
| ACCEPTD | SENT        | no       | accepted_by_network   | many peers send it on the way, before a final DELIVRD      |
| ENROUTE | SENT        | no       | –                     | still on its way                                           |

HTTP provider statuses (the simulator's webhooks, shaped like an aggregator's and RBM's):

| status      | status      | terminal | reason             |
|-------------|-------------|----------|--------------------|
| SENT        | SENT        | no       | –                  |
| DELIVERED   | DELIVERED   | yes      | –                  |
| READ        | READ        | no (engagement, after the outcome) | – |
| UNDELIVERED | UNDELIVERED | yes      | undeliverable      |
| EXPIRED     | EXPIRED     | yes      | expired_in_network |
| FAILED      | FAILED      | yes      | provider_failed    |

Twilio's and Vonage's words that this table lacks are in ``HTTP_STATUS`` too (their providers' ``statuses.py`` are
their tables: Vonage's ``submitted`` is SENT, ``rejected`` REJECTED, ``undeliverable`` FAILED).

An HTTP report's ``error_code`` refines the reason when ``HTTP_ERRORS`` knows it (``30003`` → ``unreachable_handset``);
an unknown code keeps the status's reason and is named in the receipt's detail. A status word not in its table is
not guessed at: ``normalize`` raises ``UnknownProviderStatus`` (the ``dlr-status`` command says so), and the receipt
stage records such a report as ``UNRECOGNIZED`` — status ``UNKNOWN``, not terminal, the raw word kept in the
receipt's ``provider_status`` — so the report is neither lost nor dead-lettered, and the message's deadline still
ends it if nothing better comes (``processors.receipt.state``).

The order (``STEP``): DEFERRED < SENT < the terminal outcome (UNKNOWN among them: no report by the deadline) < READ
and CLICKED. A message moves forward only; its outcome is written once; READ and CLICKED are engagement receipts
written after it, each once.
"""
from __future__ import annotations

from dataclasses import dataclass

from processors.receipts import TERMINAL_STATUSES

PROTOCOLS = ("smpp", "http")

SMPP_STATUS: dict[str, tuple[str, str | None]] = {
    "DELIVRD": ("DELIVERED", None),
    "UNDELIV": ("UNDELIVERED", "undeliverable"),
    "EXPIRED": ("EXPIRED", "expired_in_network"),
    "REJECTD": ("REJECTED", "rejected_by_network"),
    "DELETED": ("FAILED", "deleted_by_smsc"),
    "UNKNOWN": ("FAILED", "unknown_final_state"),
    "ACCEPTD": ("SENT", "accepted_by_network"),
    "ENROUTE": ("SENT", None),
}

HTTP_STATUS: dict[str, tuple[str, str | None]] = {
    "SENT": ("SENT", None),
    "DELIVERED": ("DELIVERED", None),
    "READ": ("READ", None),
    "UNDELIVERED": ("UNDELIVERED", "undeliverable"),
    "EXPIRED": ("EXPIRED", "expired_in_network"),
    "FAILED": ("FAILED", "provider_failed"),
    # Twilio's MessageStatus words the rows above lack (processors/providers/twilio/statuses.py is their table).
    "ACCEPTED": ("SENT", None),
    "SCHEDULED": ("SENT", None),
    "QUEUED": ("SENT", None),
    "SENDING": ("SENT", None),
    "PARTIALLY_DELIVERED": ("PARTIALLY_DELIVERED", None),
    "CANCELED": ("FAILED", "canceled_at_provider"),
    # Vonage's Messages API status words the rows above lack (processors/providers/vonage/statuses.py is their table).
    "SUBMITTED": ("SENT", None),
    "REJECTED": ("REJECTED", "rejected_by_provider"),
    "UNDELIVERABLE": ("FAILED", "undeliverable_at_provider"),
    # RBM's event words the rows above lack (processors/providers/rbm/statuses.py is their table; CLICKED is the
    # record its webhook writes for a tapped suggestion).
    "TTL_EXPIRATION_REVOKED": ("EXPIRED", "rcs_ttl_expired"),
    "TTL_EXPIRATION_REVOKE_FAILED": ("SENT", "rcs_revoke_failed"),
    "CLICKED": ("CLICKED", None),
}

# Error codes HTTP providers put next to a final status: aggregator codes (Twilio's 300xx numbering, which the
# simulator uses) and RBM's. The status decides the outcome; the code only names the reason.
HTTP_ERRORS: dict[str, str] = {
    "30001": "provider_queue_overflow",
    "30002": "account_suspended",
    "30003": "unreachable_handset",
    "30004": "blocked_by_recipient",
    "30005": "unknown_handset",
    "30006": "landline_or_unreachable_carrier",
    "30007": "filtered_by_carrier",
    "30008": "unknown_error",
    "30034": "unregistered_sender",
    "30036": "validity_period_expired",  # Twilio: the ValidityPeriod ran out before the message could be sent
    "TTL_EXPIRED": "rcs_ttl_expired",
    "NOT_RCS_CAPABLE": "rcs_unsupported",
    "INVALID_NUMBER": "invalid_number",
    # Vonage's Messages API codes (a status webhook's error; processors/providers/vonage/statuses.py ERRORS).
    "1010": "invalid_request",
    "1020": "invalid_request",
    "1040": "invalid_destination",
    "1050": "recipient_barred",
    "1060": "account_suspended",
    "1070": "account_out_of_credit",
    "1120": "invalid_sender",
    "1130": "invalid_request",
    "1160": "destination_not_allowed",
    "1170": "invalid_destination",
    "1180": "unreachable_handset",
    "1190": "unknown_handset",
    "1210": "filtered_by_carrier",
    "1220": "unreachable_handset",
    "1240": "recipient_unsubscribed",
    "1250": "unroutable_destination",
    "1260": "unreachable_destination",
    "1270": "filtered_by_carrier",
    "1280": "blocked_by_carrier",
    "1290": "recipient_out_of_credit",
    "1330": "unknown_error",
    "1360": "expired_in_network",
}

ENGAGEMENT = frozenset({"READ", "CLICKED"})
# Where each status stands in a message's life; a receipt never goes to a lower step than one already written.
STEP: dict[str, int] = {"DEFERRED": 0, "SENT": 1, **{status: 2 for status in TERMINAL_STATUSES}, "READ": 3, "CLICKED": 3}


class UnknownProviderStatus(ValueError):
    """A provider status its protocol's table does not know (the receipt stage records it as ``UNRECOGNIZED``)."""


@dataclass(frozen=True)
class Normalized:
    """A provider status in Courrier's terms."""

    status: str
    reason: str | None


# A report whose status word no table knows: recorded (not terminal), never guessed at. The reason says why.
UNRECOGNIZED = Normalized("UNKNOWN", "unknown_provider_status")


def protocol_of(provider: str) -> str:
    """Whose status words a provider's reports carry: SMPP peers are named ``smpp:<peer>`` by dispatch, the rest speak HTTP."""
    return "smpp" if provider.lower().startswith("smpp") else "http"


def normalize(word: str, protocol: str = "smpp") -> Normalized:
    """One provider status word (``DELIVRD`` over SMPP, ``DELIVERED`` over HTTP) in Courrier's status set."""
    table = {"smpp": SMPP_STATUS, "http": HTTP_STATUS}.get(protocol)
    if table is None:
        raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
    try:
        return Normalized(*table[word.strip().upper()])
    except KeyError:
        raise UnknownProviderStatus(f"provider status {word.strip()[:20]!r} is not in the {protocol.upper()} status table") from None


def with_error_code(normalized: Normalized, error_code: str | None) -> Normalized:
    """The reason an HTTP error code gives a failed outcome, when the code is known; delivered or sent stay as they are."""
    reason = HTTP_ERRORS.get((error_code or "").strip().upper())
    if reason is None or normalized.status in ("SENT", "DELIVERED", "READ"):
        return normalized
    return Normalized(normalized.status, reason)


def aggregate_parts(stats: list[str]) -> Normalized:
    """A message from its parts' SMPP stats: any part on its way → ``SENT``; all delivered → ``DELIVERED``;
    some → ``PARTIALLY_DELIVERED``; none → the first failed part's status."""
    parts = [normalize(stat, "smpp") for stat in stats]
    pending = sum(p.status == "SENT" for p in parts)
    delivered = sum(p.status == "DELIVERED" for p in parts)
    if pending:
        return Normalized("SENT", f"{pending}_of_{len(parts)}_parts_pending")
    if delivered == len(parts):
        return Normalized("DELIVERED", None)
    if delivered:
        return Normalized("PARTIALLY_DELIVERED", f"{delivered}_of_{len(parts)}_parts_delivered")
    return next(p for p in parts if p.status != "DELIVERED")
