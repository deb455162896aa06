"""The bookkeeping of one windowed submission run, with no socket: what to send next, what each answer means.

Rules: at most ``pace.size`` submit_sm outstanding; messages to one destination go one after the other
(the next starts when the previous has its final answer, so throttling never reorders them); answers are
classed by ``errors``: a throttled part is sent again, first, after a pause that doubles while the SMSC keeps
throttling, and the window shrinks (``Pace``); a transient refusal (ESME_RSYSERR…) ends the message transient, to be
retried later; any other refusal is permanent; a part whose answer was lost with its connection fails its message
transiently and is never resent.
"""
from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from processors.dispatch.provider import Submission, SubmitResult
from processors.providers.smpp.codec import Encoded
from processors.providers.smpp.errors import CONNECTION_LOST, NOT_BOUND, TIMEOUT, ErrorClass, classify, status_code, status_name

FIRST_PAUSE_S = 0.05
MAX_PAUSE_S = 2.0


@dataclass
class Pace:
    """How fast the SMSC lets one bind submit, learnt from its answers and kept across runs (backpressure).

    ``size`` submit_sm may be outstanding: ``limit`` at first; the first throttling answer of a pause halves it (not
    below 1) and pauses sending for ``pause_s``, which doubles while throttling goes on (up to ``MAX_PAUSE_S``);
    every accepted part grows it back by ``1 / size``, about one per window's worth of accepted parts (additive
    increase, multiplicative decrease, as TCP does), and resets the pause. Throttling answers already in flight when a
    pause began neither lengthen it nor shrink the window again.
    """

    limit: int
    current: float = 0.0
    pause_s: float = FIRST_PAUSE_S
    paused_until: float = 0.0

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("a window holds at least one submit_sm")
        self.current = float(self.current or self.limit)

    @property
    def size(self) -> int:
        return int(self.current)

    def accepted(self) -> None:
        self.pause_s = FIRST_PAUSE_S
        self.current = min(float(self.limit), self.current + 1 / self.current)

    def throttled(self, now: float) -> None:
        if now < self.paused_until:
            return
        self.paused_until = now + self.pause_s
        self.pause_s = min(MAX_PAUSE_S, self.pause_s * 2)
        self.current = max(1.0, self.current / 2)


@dataclass(frozen=True)
class Failure:
    """Why a message was not (or may not have been) accepted."""

    error_code: str | None
    transient: bool
    detail: str


@dataclass
class Job:
    """One submission on its way: its payloads, the parts still to send and the ids the SMSC gave."""

    index: int
    submission: Submission
    source: tuple[int, int, str]
    encoded: Encoded
    ids: list[str | None]
    unsent: list[int]
    throttled_by: int | None = None
    failure: Failure | None = None

    @classmethod
    def of(cls, index: int, submission: Submission, source: tuple[int, int, str], encoded: Encoded) -> Job:
        parts = len(encoded.payloads)
        return cls(index, submission, source, encoded, [None] * parts, list(range(parts)))

    @classmethod
    def refused(cls, index: int, submission: Submission, detail: str) -> Job:
        """A submission that cannot be sent at all (unsupported sender type, too long…): a permanent failure."""
        return cls(index, submission, (0, 0, ""), Encoded([], 0, 0), [], [], failure=Failure(None, False, detail))

    @property
    def finished(self) -> bool:
        return self.failure is not None or (bool(self.ids) and all(i is not None for i in self.ids))


@dataclass
class Window:
    """One ``submit_many`` run; the caller sends what ``next_part`` gives and reports every answer and lost link."""

    jobs: list[Job]
    size: int
    pace: Pace | None = None  # the provider's, shared by its runs; None: one of this run's own, starting at ``size``
    in_flight: dict[int, tuple[Job, int, int]] = field(default_factory=dict)  # sequence → (job, part, link generation)
    _ready: deque[Job] = field(default_factory=deque)
    _behind: dict[str, deque[Job]] = field(default_factory=dict)  # destination → its later messages
    _started: OrderedDict[int, Job] = field(default_factory=OrderedDict)
    _unfinished: int = 0

    def __post_init__(self) -> None:
        if self.pace is None:
            self.pace = Pace(self.size)
        for job in self.jobs:
            if job.finished:
                continue
            self._unfinished += 1
            queue = self._behind.get(job.submission.destination)
            if queue is None:
                self._behind[job.submission.destination] = deque()
                self._ready.append(job)
            else:
                queue.append(job)

    def done(self) -> bool:
        return self._unfinished == 0

    def next_part(self, now: float) -> tuple[Job, int] | None:
        """The next ``(job, part)`` to send, or None while the window is full, the SMSC is throttling, or nothing is left."""
        assert self.pace is not None
        if len(self.in_flight) >= self.pace.size or now < self.pace.paused_until:
            return None
        for job in self._started.values():  # parts of started messages first (throttled ones among them), oldest first
            if job.unsent and job.failure is None:
                return job, job.unsent.pop(0)
        while self._ready:
            job = self._ready.popleft()
            if job.finished:
                continue
            self._started[job.index] = job
            return job, job.unsent.pop(0)
        return None

    def sent(self, sequence: int, job: Job, part: int, generation: int) -> None:
        self.in_flight[sequence] = (job, part, generation)

    def answered(self, sequence: int, status: int, provider_id: str, now: float) -> bool:
        """Apply one submit_sm_resp (or generic_nack); False when the sequence is not this run's."""
        slot = self.in_flight.pop(sequence, None)
        if slot is None:
            return False
        job, part, _generation = slot
        assert self.pace is not None
        kind = classify(status) if status else None
        if kind is None:
            job.ids[part] = provider_id
            self.pace.accepted()
        elif kind is ErrorClass.THROTTLE:
            job.throttled_by = status
            if job.failure is None:
                bisect.insort(job.unsent, part)
            self.pace.throttled(now)
        elif job.failure is None:  # RETRY: the SMSC did not take it, the record is retried; PERMANENT: it ends failed
            job.failure = Failure(status_code(status), kind is ErrorClass.RETRY, status_name(status))
        self._settle(job)
        return True

    def link_lost(self, live_generation: int | None) -> None:
        """Every part sent on another link than ``live_generation`` (None: no link) lost its answer."""
        for sequence, (job, _part, generation) in list(self.in_flight.items()):
            if generation != live_generation:
                del self.in_flight[sequence]
                if job.failure is None:
                    job.failure = Failure(None, True, CONNECTION_LOST)
                self._settle(job)

    def results(self, link_up: bool) -> list[SubmitResult]:
        """One final result per submission, in input order; what is unfinished now is transient."""
        return [self._result(job, link_up) for job in self.jobs]

    def _settle(self, job: Job) -> None:
        """A finished message lets the next one to its destination start."""
        if not job.finished or self._started.pop(job.index, None) is None:
            return
        self._unfinished -= 1
        queue = self._behind.get(job.submission.destination)
        if queue:
            self._ready.appendleft(queue.popleft())

    def _result(self, job: Job, link_up: bool) -> SubmitResult:
        message_id, ids = job.submission.message_id, [i for i in job.ids if i is not None]
        if job.failure is not None:
            f = job.failure
            return SubmitResult(message_id, False, ids, f.error_code, f.transient, f.detail)
        if job.finished:
            return SubmitResult(message_id, True, ids, None, False, None)
        if job.throttled_by is not None and not any(slot[0] is job for slot in self.in_flight.values()):
            return SubmitResult(message_id, False, ids, status_code(job.throttled_by), True, status_name(job.throttled_by))
        return SubmitResult(message_id, False, ids, None, True, TIMEOUT if link_up or ids else NOT_BOUND)
