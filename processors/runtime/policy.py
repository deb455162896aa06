"""What happens to a record that fails: the header contract of the dead-letter and delay topics, and the retry backoff.

Decided here once: a record that cannot be decoded or makes the stage raise goes to ``dead-letter``
with its original bytes; a ``TransientError`` goes to ``retry`` with a due time, up to
``RetryPolicy.max_attempts``, then to ``dead-letter``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone

STAGE = "courrier-stage"
ERROR_CLASS = "courrier-error-class"
ERROR_MESSAGE = "courrier-error-message"
SOURCE_TOPIC = "courrier-source-topic"
SOURCE_PARTITION = "courrier-source-partition"
SOURCE_OFFSET = "courrier-source-offset"
FAILED_AT = "courrier-failed-at"
TARGET_TOPIC = "courrier-target-topic"
DUE_MS = "courrier-due-ms"
ATTEMPT = "courrier-attempt"

_OURS = frozenset({STAGE, ERROR_CLASS, ERROR_MESSAGE, SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET, FAILED_AT, TARGET_TOPIC, DUE_MS, ATTEMPT})
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: ``base * 2**(attempt-1)``, capped, ± ``jitter`` of itself."""

    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 300.0
    jitter: float = 0.2

    def delay_s(self, attempt: int, requested_s: float | None = None, rng: random.Random | None = None) -> float:
        """Delay before ``attempt`` (1 = first retry); a delay the error asked for wins over the backoff."""
        if requested_s is not None:
            return max(0.0, requested_s)
        base = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        spread = base * self.jitter
        return max(0.0, base + (rng or random).uniform(-spread, spread))


def failure_headers(stage: str, error: BaseException, topic: str, partition: int, offset: int, now: datetime) -> Headers:
    """Where a record came from and why it failed, as dead-letter and retry records carry it."""
    return [
        (STAGE, stage.encode()),
        (ERROR_CLASS, type(error).__name__.encode()),
        (ERROR_MESSAGE, str(error)[:2000].encode()),
        (SOURCE_TOPIC, topic.encode()),
        (SOURCE_PARTITION, str(partition).encode()),
        (SOURCE_OFFSET, str(offset).encode()),
        (FAILED_AT, now.astimezone(timezone.utc).isoformat(timespec="milliseconds").encode()),
    ]


def retry_headers(target_topic: str, due_ms: int, attempt: int) -> Headers:
    """Where the scheduler must put a delayed record back, and when."""
    return [(TARGET_TOPIC, target_topic.encode()), (DUE_MS, str(due_ms).encode()), (ATTEMPT, str(attempt).encode())]


def carried_headers(headers: list[tuple[str, bytes | None]] | None) -> Headers:
    """The record's own headers (trace ids and such), without the runtime's failure headers, which are rewritten each time."""
    return [(k, v or b"") for k, v in (headers or []) if k not in _OURS]


def header(headers: list[tuple[str, bytes | None]] | None, name: str) -> str | None:
    """The last value of a header as text, or None."""
    found = None
    for key, value in headers or []:
        if key == name and value is not None:
            found = value.decode()
    return found


def attempt_of(headers: list[tuple[str, bytes | None]] | None) -> int:
    """How many times the record was retried already (0 for a first delivery)."""
    value = header(headers, ATTEMPT)
    return int(value) if value and value.isdigit() else 0
