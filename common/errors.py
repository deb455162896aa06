"""Courrier's own errors: the root (``CourrierError``) and those the runtime understands (the policy for each lives in
``processors.runtime.policy``)."""
from __future__ import annotations

from datetime import datetime


class CourrierError(Exception):
    """Base class of Courrier's own errors."""


class TransientError(CourrierError):
    """A failure that may pass: the record goes to the retry topic and comes back after ``delay_s``.

    With ``retry_until`` (timezone-aware) the record is retried with capped backoff until that moment, however many
    attempts it takes (e.g. until a message's validity ends while every provider is down), instead of the policy's
    ``max_attempts``; the stage then sees it once more after that moment and decides its end itself (raised again
    after that moment, it falls back to ``max_attempts``, so nothing loops through the retry topic).
    """

    def __init__(self, message: str, delay_s: float | None = None, retry_until: datetime | None = None) -> None:
        super().__init__(message)
        self.delay_s = delay_s
        self.retry_until = retry_until


class DecodeError(CourrierError):
    """The record's bytes are not a value of the topic's schema (garbage, unknown schema id, wrong shape)."""


class UnreachableError(CourrierError):
    """A part (broker, registry, S3, SMPP peer) did not answer: the message names the address and what to run."""


class MissingTopics(CourrierError):
    """Topics a stage reads do not exist on the broker (a new version's topics before ``courrier topology apply``)."""


class NotHeld(CourrierError):
    """A co-partitioned table (``runtime.table``) was asked for a row of a partition its instance is not assigned."""
