"""The contract between a stage's pure logic and the runtime.

A stage turns one decoded input event into zero or more outputs. It never touches Kafka: the
runtime decodes, calls ``process``, encodes and produces the outputs, then commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

Event = dict[str, Any]


@dataclass(frozen=True)
class Output:
    """One record to produce: a logical topic name from ``topology.topics``, a string key and an Avro-shaped value.

    With ``deliver_at`` (timezone-aware) the record is delayed: the runtime writes it, encoded with
    ``topic``'s schema, to its delay topic (``topology.topics.delay_topic``), and the scheduler puts it on ``topic``
    at that time. A ``bytes`` value is produced as it is (records that carry other topics' bytes: the scheduler's
    releases), with ``headers`` after the input's own.
    """

    topic: str
    key: str | bytes | None
    value: Event | bytes | None
    deliver_at: datetime | None = None
    headers: tuple[tuple[str, bytes], ...] = ()

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


class Hooks:
    """The optional hooks of a stage, looked up once; a missing hook is a no-op (or, for ``process_batch``, None).

    - ``open()`` / ``close()``: once before the first batch and after the last one.
    - ``process_batch(items)``: takes the place of ``process`` for a whole batch (per item, in order: its outputs or an
      error).
    - ``poll_outputs() -> Iterable[Output]``: outputs from outside any input record (a provider's reports, a held
      record now due), produced with the batch that polled them, once per batch.
    - ``outputs_delivered()``: the batch that produced the last ``poll_outputs()`` result is durable (flushed and its
      offsets committed, or its transaction committed), and only then; a stage acknowledges upstream here.
    - ``batch_aborted()``: the batch in progress was dropped (its transaction aborted, or its outputs not acknowledged):
      its input records will be read again, and what the last ``poll_outputs()`` returned must be offered again.
    - ``dead_letter_outputs(event, error, meta) -> Iterable[Output]``: what to write beside the dead-letter record of a
      decoded input (e.g. a ``FAILED`` receipt, so the receipt topic never misses a message).
    - ``commit_points() -> Mapping[(physical topic, partition), offset]``: where to commit instead of after the last
      record read, for a stage that holds records across batches (the scheduler); read when the batch commits, with
      the last polled outputs counted as delivered.
    - ``partitions_revoked(partitions: list[(physical topic, partition)])``: forget what is held from them.
    - ``paused_inputs() -> set[str]``: logical input topics to pause now (backpressure); the others are resumed.
    """

    def __init__(self, stage: object) -> None:
        def hook(name: str, default: Callable[..., Any]) -> Callable[..., Any]:
            return getattr(stage, name, None) or default

        self.open: Callable[[], None] = hook("open", lambda: None)
        self.close: Callable[[], None] = hook("close", lambda: None)
        self.process_batch: Callable[[Sequence[tuple[Event, RecordMeta]]], Iterable[list[Output] | BaseException]] | None = \
            getattr(stage, "process_batch", None)
        self.poll_outputs: Callable[[], Iterable[Output]] = hook("poll_outputs", lambda: ())
        self.outputs_delivered: Callable[[], None] = hook("outputs_delivered", lambda: None)
        self.batch_aborted: Callable[[], None] = hook("batch_aborted", lambda: None)
        self.dead_letter_outputs: Callable[[Event, BaseException, RecordMeta], Iterable[Output]] = \
            hook("dead_letter_outputs", lambda *_: ())
        self.commit_points: Callable[[], Mapping[tuple[str, int], int]] | None = getattr(stage, "commit_points", None)
        self.partitions_revoked: Callable[[list[tuple[str, int]]], None] = hook("partitions_revoked", lambda _p: None)
        self.paused_inputs: Callable[[], set[str]] | None = getattr(stage, "paused_inputs", None)
