"""What every provider adapter offers dispatch: windowed submission, plus reports and inbound messages via callbacks."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Sequence


@dataclass(frozen=True)
class Submission:
    """One message to submit: who from, who to, and the final text with its encoding."""

    message_id: str
    sender_id: str
    sender_type: str
    destination: str
    text: str
    encoding: str


@dataclass(frozen=True)
class SubmitResult:
    """A provider's answer to one submission; ``transient`` means it may be tried again later."""

    message_id: str
    accepted: bool
    provider_message_ids: list[str]
    error_code: str | None = None
    transient: bool = False
    detail: str | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's report on one submitted message or part."""

    provider: str
    provider_message_id: str
    raw_status: str
    error_code: str | None
    raw_text: str
    received_at: datetime


@dataclass(frozen=True)
class InboundSms:
    """A message a recipient sent to one of our senders."""

    provider: str
    from_number: str
    to_sender: str
    text: str
    received_at: datetime


class Provider(Protocol):
    """A way out to the network; reports and inbound messages arrive on callbacks given at construction."""

    name: str

    def open(self) -> None: ...

    def close(self) -> None: ...

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        """Submit every message (in order, windowed) and return one result per submission, same order."""
        ...
