"""The contract between a stage's pure logic and the runtime.

A stage turns one decoded input event into zero or more outputs. It never touches Kafka: the
runtime decodes, calls ``process``, encodes and produces the outputs, then commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Protocol

Event = dict[str, Any]


@dataclass(frozen=True)
class Output:
    """One record to produce: a logical topic name from ``topology.topics``, a string key and an Avro-shaped value.

    With ``deliver_at`` (timezone-aware) the record is delayed: the runtime writes it, encoded with
    ``topic``'s schema, to the ``scheduled`` delay topic, and the scheduler puts it on ``topic`` at that time.
    """

    topic: str
    key: str
    value: Event
    deliver_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.deliver_at is not None and self.deliver_at.utcoffset() is None:
            raise ValueError(f"deliver_at must be timezone-aware, not {self.deliver_at!r}")


@dataclass(frozen=True)
class RecordMeta:
    """Where an input came from and the clock the stage must use (so logic stays pure and testable)."""

    topic: str
    partition: int
    offset: int
    key: str | None
    now: datetime
    headers: dict[str, bytes] = field(default_factory=dict)


class Stage(Protocol):
    """What the runtime runs: a named stage reading logical topics and mapping each event to outputs."""

    name: str
    inputs: tuple[str, ...]

    def process(self, event: Event, meta: RecordMeta) -> Iterable[Output]:
        """Map one input event to its outputs. Raise ``TransientError`` to retry later; any other error dead-letters the record."""
        ...


# Optional hooks a stage may also define; the runtime looks each one up and does without it when it is missing.
#
# ``open()`` / ``close()``: called once before the first batch and after the last one.
# ``process_batch(items)``: takes the place of ``process`` for a whole batch (per item, in order: its outputs or an error).
# ``poll_outputs() -> Iterable[Output]``: outputs that come from outside any input record (e.g. a provider's reports),
#     produced with the batch that polled them, once per batch.
# ``outputs_delivered()``: called after the batch that produced the last ``poll_outputs()`` result has been made
#     durable (flushed and its offsets committed, or its transaction committed), and only then; a stage acknowledges
#     upstream here. When a batch is aborted it is not called, and the stage must offer those outputs again at its
#     next ``poll_outputs()`` (or let its source send them again): nothing polled may be dropped on the floor.
