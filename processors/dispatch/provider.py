"""What every provider adapter (SMPP peer, HTTP aggregator, RBM) offers dispatch.

Submission is windowed and synchronous for the caller (``submit_many`` answers every message);
delivery reports and inbound messages arrive later, on the provider's own thread, through the
callbacks given to its constructor. A provider whose peer keeps what we have not acknowledged (an
SMSC) hands each one over with an ``ack``: whoever takes it calls ``ack()`` once it is durable (produced
and committed), never before, so a crash in between leaves the peer to deliver it again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Protocol, Sequence

Ack = Callable[[], None]
# The details of a transient result whose outcome is unknown (the request may have reached the provider): such a
# message is reconciled or ended, never submitted again.
TIMEOUT, CONNECTION_LOST = "timeout", "connection_lost"
# The details of a transient result by which a provider asks to be sent to more slowly (SMPP's throttling statuses by
# name, HTTP 429): they prove it is up and answering, so they never count against its circuit breaker. A provider
# reporting a throttle under another name adds it here (the SMPP errors' test checks theirs are all in).
ALIVE_REFUSALS = frozenset({"throttled", "rate_limited", "ESME_RMSGQFUL", "ESME_RTHROTTLED"})


@dataclass(frozen=True)
class Submission:
    """One message to submit; ``parts`` are the segments render already cut, when it did.

    ``text``/``encoding`` are the SMS body (the whole message on SMS, the fallback on RCS, the text beside an
    MMS's media); ``rcs_json`` and ``media_urls`` are the RCS agent message and the MMS media, when there are.
    """

    message_id: str
    sender_id: str
    sender_type: str  # a courrier.SenderType symbol: SHORT_CODE, LONG_CODE, TOLL_FREE, ALPHANUMERIC, RCS_AGENT
    destination: str  # E.164, with its '+'
    text: str
    encoding: str  # "GSM7" or "UCS2"
    parts: list[str] | None = None
    channel: str = "SMS"  # SMS, MMS or RCS: the API an HTTP provider sends through (SMPP carries SMS only)
    rcs_json: str | None = None  # RCS content as render wrote it (shapes in processors.render.rcs); None on RCS sends ``text``
    media_urls: tuple[str, ...] = ()  # MMS media the provider fetches
    expires_at: datetime | None = None  # end of validity: the network must not deliver after it (SMPP validity_period, RBM expireTime)


@dataclass(frozen=True)
class SubmitResult:
    """The provider's final answer to one submission: accepted with one provider id per part, or refused.

    ``transient`` means "try again later" (throttled, timed out, connection lost before the answer);
    a refusal that is not transient is permanent.
    """

    message_id: str
    accepted: bool
    provider_message_ids: list[str]
    error_code: str | None
    transient: bool
    detail: str | None


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's report on one submitted message or part, as it said it.

    ``ack``: tells the provider the report is durable, so its peer may forget it (see the module docstring); None when
    the provider has nothing to acknowledge (HTTP webhooks are answered where they are received). Not part of equality.
    """

    provider: str
    provider_message_id: str
    raw_status: str  # SMPP ``stat`` word (DELIVRD, UNDELIV…) or the HTTP provider's own status
    error_code: str | None
    raw_text: str
    received_at: datetime
    ack: Ack | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class InboundSms:
    """A message a recipient sent to one of our senders; ``ack`` as on ``DeliveryReport``."""

    provider: str
    from_number: str
    to_sender: str
    text: str
    received_at: datetime
    ack: Ack | None = field(default=None, compare=False, repr=False)


ReportCallback = Callable[[DeliveryReport], None]
InboundCallback = Callable[[InboundSms], None]


class Provider(Protocol):
    """A way out to the network; reports and inbound messages arrive on the callbacks given at construction.

    Optional capabilities, looked up with ``getattr`` by whoever uses them (a provider without one is never asked):

    - ``reconcile(message_id, channel) -> SubmitResult | None``: what the provider has of a submit whose answer was
      lost (accepted, or None when it never got it); ``TransientError`` when it cannot say now.
    - ``revoke(message_id, destination) -> bool | None``: withdraw a message it accepted and has not delivered yet —
      True withdrawn, False already delivered (nothing to withdraw), None when it cannot say now. Dispatch asks it
      before the SMS fallback an RCS deadline triggered (``processors.dispatch.revoke``).
    - ``ready`` and ``reconnect()``: see ``processors.dispatch.router``.
    """

    name: str

    def open(self) -> None:
        """Connect; ``UnreachableError`` when the provider cannot be reached at all."""

    def close(self) -> None:
        """Disconnect politely; no callback is called afterwards."""

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        """Submit every message and return one final result per submission, in input order, within ``timeout_s``."""
