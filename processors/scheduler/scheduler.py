"""The scheduler: a stage on the one runtime that holds delay-topic records and releases each to its target when due.

It reads ``retry`` (the runtime's backoff), each lane's deferrals (``scheduled`` for marketing, ``scheduled-transactional``)
and ``timers`` (deadlines). Records are held in memory up to ``max_pending`` per input topic; past that the runner
pauses that topic alone (``paused_inputs``), so memory stays bounded, nothing is dropped, and a campaign deferred
overnight never holds back an OTP, a retry or a deadline. Releases leave as the runner's side outputs, in the same
transaction as the offsets committed below the lowest record still held (``commit_points``) and as a marker per
released record on ``scheduler-released``. A restarted scheduler reads again from below the lowest record still held,
so it meets records released after that one: their markers say so, and each is released once.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from common.config import Settings
from processors.runtime import policy
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.stage import Event, Output, RecordMeta
from processors.runtime.table import TopicTable
from processors.scheduler.pending import Partition, PendingRecords

INPUTS = ("retry", "scheduled", "scheduled-transactional", "timers")
# How long the runner waits for input before looking at what is due: the latest a due record leaves.
RELEASE_TICK_S = 0.05


@dataclass(frozen=True)
class Held:
    """A delayed record as read: where it goes back to (logical topic), its key, bytes and headers."""

    target: str
    key: str | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


class SchedulerStage:
    """Holds delayed records (``process``) and offers those due as outputs (``poll_outputs``)."""

    name = "scheduler"
    inputs = INPUTS

    def __init__(self, settings: Settings, max_pending: int = 100_000, clock_ms: Callable[[], int] | None = None,
                 released: Mapping[str, Any] | None = None) -> None:
        """``released``: the ``scheduler-released`` table (markers of every instance's releases, as read back)."""
        self._physical = settings.topic
        self._prefix = settings.topic_prefix
        self.max_pending = max_pending
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._pending: PendingRecords[Held] = PendingRecords()
        self._in_flight: list[tuple[Partition, int, Held, int]] = []
        self._paused: set[str] = set()
        self._released = released if released is not None else {}
        self._released_here: set[str] = set()

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        """Hold the record until its due time; one released already is skipped; a record without the delay headers is
        refused (dead-letter)."""
        partition = (self._physical(meta.topic), meta.partition)
        if _marker(partition, meta.offset) in self._released_here or _marker(partition, meta.offset) in self._released:
            self._pending.skip(partition, meta.offset)
            return []
        headers = event["headers"]
        due = policy.header(headers, policy.DUE_MS)
        target = policy.header(headers, policy.TARGET_TOPIC)
        if not target or not due or not due.lstrip("-").isdigit():
            self._pending.skip(partition, meta.offset)
            raise ValueError(f"delay record lacks {policy.TARGET_TOPIC} or a numeric {policy.DUE_MS} header")
        attempt = str(policy.attempt_of(headers)).encode()
        carried = (*policy.carried_headers(headers), (policy.ATTEMPT, attempt))
        self._pending.hold(partition, meta.offset, int(due), Held(target.removeprefix(self._prefix), meta.key, event["value"], carried))
        return []

    def poll_outputs(self) -> list[Output]:
        """Every held record now due, earliest first, as it was read, each with its marker; they stay held until their
        batch is durable."""
        due = self._pending.due(self._clock_ms())
        self._in_flight.extend((partition, offset, held, self._clock_ms()) for partition, offset, held in due)
        outputs = []
        for partition, offset, held in due:
            outputs.append(Output(held.target, held.key, held.value, headers=held.headers))
            outputs.append(Output("scheduler-released", _marker(partition, offset), b""))
        return outputs

    def outputs_delivered(self) -> None:
        for partition, offset, _held, _due in self._in_flight:
            self._pending.released(partition, offset)
            self._released_here.add(_marker(partition, offset))
        self._in_flight.clear()

    def batch_aborted(self) -> None:
        for partition, offset, held, due_ms in self._in_flight:
            self._pending.retake(partition, offset, due_ms, held)
        self._in_flight.clear()

    def commit_points(self) -> Mapping[Partition, int]:
        """Below the lowest record still held per partition, counting those leaving in this batch as released."""
        return self._pending.commit_points(released=[(partition, offset) for partition, offset, _h, _d in self._in_flight])

    def partitions_revoked(self, partitions: list[Partition]) -> None:
        self._pending.drop(partitions)
        self._in_flight = [item for item in self._in_flight if item[0] not in partitions]
        # Their markers are on the topic (or were aborted with their release): the table is the one memory from now on.
        revoked = {f"{topic}:{number}:" for topic, number in partitions}
        self._released_here = {m for m in self._released_here if not m.startswith(tuple(revoked))}

    def paused_inputs(self) -> set[str]:
        """Inputs holding ``max_pending`` records pause, and resume below half of it."""
        for logical in self.inputs:
            held = self._pending.held_in(self._physical(logical))
            if held >= self.max_pending:
                self._paused.add(logical)
            elif held < self.max_pending // 2:
                self._paused.discard(logical)
        return set(self._paused)


def _marker(partition: Partition, offset: int) -> str:
    """The ``scheduler-released`` key of a delay record."""
    return f"{partition[0]}:{partition[1]}:{offset}"


class Scheduler:
    """The scheduler stage on its runner, with the table of released markers: ``run()`` until ``stop()``, SIGTERM or
    ``until()``."""

    def __init__(self, settings: Settings, max_pending: int = 100_000, metrics_port: int | None = None,
                 clock_ms: Callable[[], int] | None = None, exactly_once: bool = True) -> None:
        self._released = TopicTable(settings, "scheduler-released")
        self.stage = SchedulerStage(settings, max_pending, clock_ms, self._released)
        self.runner = Runner(self.stage, settings, RunnerOptions(batch_timeout_s=RELEASE_TICK_S, exactly_once=exactly_once,
                                                                 metrics_port=metrics_port))
        self.metrics = self.runner.metrics

    def run(self, until: Callable[[], bool] | None = None) -> None:
        self._released.start()
        try:
            self.runner.run(until)
        finally:
            self._released.stop()

    def stop(self) -> None:
        self.runner.stop()

    @property
    def paused(self) -> set[str]:
        """The logical inputs paused now because they hold ``max_pending`` records."""
        return self.runner.paused
