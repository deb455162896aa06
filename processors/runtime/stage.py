"""The contract between a stage's pure logic and the runtime.

A stage turns one decoded input event into zero or more outputs. It never touches Kafka: the
runtime decodes, calls ``process``, encodes and produces the outputs, then commits. Beyond ``Stage``, a stage may
have any of the optional hooks, each a ``Protocol`` below (``Opens``, ``ProcessesBatches``, ``PollsOutputs``…),
gathered by ``Hooks``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

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


# The optional hooks, each a protocol of its own: a stage has a hook when it has the method (``runtime_checkable``
# checks that once, when ``Hooks`` is built), and the protocol says the method's type and contract.

@runtime_checkable
class Opens(Protocol):
    def open(self) -> None:
        """Once, before the first batch."""


@runtime_checkable
class Closes(Protocol):
    def close(self) -> None:
        """Once, after the last batch."""


@runtime_checkable
class ProcessesBatches(Protocol):
    def process_batch(self, items: Sequence[tuple[Event, RecordMeta]]) -> Iterable[list[Output] | BaseException]:
        """Takes the place of ``process`` for a whole batch (e.g. windowed provider submits): per item, in order, its
        outputs or an error."""


def each_alone(process: Callable[[Event, RecordMeta], Iterable[Output]],
               items: Sequence[tuple[Event, RecordMeta]]) -> list[list[Output] | BaseException]:
    """Each record through ``process`` in order, one record's error its own (the runtime dead-letters or retries that
    record alone): the usual body of a ``process_batch`` that prepares something for the whole batch first."""
    results: list[list[Output] | BaseException] = []
    for event, meta in items:
        try:
            results.append(list(process(event, meta)))
        except Exception as exc:  # handed back as this record's outcome, never raised past its batch
            results.append(exc)
    return results


@runtime_checkable
class PollsOutputs(Protocol):
    def poll_outputs(self) -> Iterable[Output]:
        """Outputs from outside any input record (a provider's reports, a held record now due), produced with the batch
        that polled them, once per batch."""


@runtime_checkable
class HearsDelivered(Protocol):
    def outputs_delivered(self) -> None:
        """The batch that produced the last ``poll_outputs()`` result is durable (flushed and its offsets committed, or
        its transaction committed), and only then; a stage acknowledges upstream here."""


@runtime_checkable
class HearsAborted(Protocol):
    def batch_aborted(self) -> None:
        """The batch in progress was dropped (its transaction aborted, or its outputs not acknowledged): its input
        records will be read again, and what the last ``poll_outputs()`` returned must be offered again."""


@runtime_checkable
class WritesBesideDeadLetter(Protocol):
    def dead_letter_outputs(self, event: Event, error: BaseException, meta: RecordMeta) -> Iterable[Output]:
        """What to write beside the dead-letter record of a decoded input (e.g. a ``FAILED`` receipt, so the receipt
        topic never misses a message)."""


@runtime_checkable
class HoldsRecords(Protocol):
    def commit_points(self) -> Mapping[tuple[str, int], int]:
        """Where to commit, per (physical topic, partition), instead of after the last record read, for a stage that
        holds records across batches (the scheduler); read when the batch commits, with the last polled outputs
        counted as delivered."""


@runtime_checkable
class HearsRevoked(Protocol):
    def partitions_revoked(self, partitions: list[tuple[str, int]]) -> None:
        """These (physical topic, partition) are no longer this instance's: forget what is held from them."""


@runtime_checkable
class PausesInputs(Protocol):
    def paused_inputs(self) -> set[str]:
        """Logical input topics to pause now (backpressure); the others are resumed."""


def _nothing(*_args: Any) -> Any:
    return ()


class Hooks:
    """The optional hooks of a stage (the protocols above), looked up once; a missing one does nothing, or is None
    where the runner behaves otherwise without it (``process_batch``, ``commit_points``, ``paused_inputs``)."""

    def __init__(self, stage: object) -> None:
        self.open: Callable[[], None] = stage.open if isinstance(stage, Opens) else _nothing
        self.close: Callable[[], None] = stage.close if isinstance(stage, Closes) else _nothing
        self.process_batch: Callable[[Sequence[tuple[Event, RecordMeta]]], Iterable[list[Output] | BaseException]] | None = \
            stage.process_batch if isinstance(stage, ProcessesBatches) else None
        self.poll_outputs: Callable[[], Iterable[Output]] = stage.poll_outputs if isinstance(stage, PollsOutputs) else _nothing
        self.outputs_delivered: Callable[[], None] = stage.outputs_delivered if isinstance(stage, HearsDelivered) else _nothing
        self.batch_aborted: Callable[[], None] = stage.batch_aborted if isinstance(stage, HearsAborted) else _nothing
        self.dead_letter_outputs: Callable[[Event, BaseException, RecordMeta], Iterable[Output]] = \
            stage.dead_letter_outputs if isinstance(stage, WritesBesideDeadLetter) else _nothing
        self.commit_points: Callable[[], Mapping[tuple[str, int], int]] | None = \
            stage.commit_points if isinstance(stage, HoldsRecords) else None
        self.partitions_revoked: Callable[[list[tuple[str, int]]], None] = \
            stage.partitions_revoked if isinstance(stage, HearsRevoked) else _nothing
        self.paused_inputs: Callable[[], set[str]] | None = stage.paused_inputs if isinstance(stage, PausesInputs) else None
