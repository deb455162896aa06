"""The bookkeeping of one windowed submission run, with no socket: what to send next, what each answer means.

Rules: at most ``window`` submit_sm outstanding; messages to one destination go one after the other
(the next starts when the previous has its final answer, so throttling never reorders them); a
throttled part is sent again, first, after a pause that doubles while the SMSC keeps throttling;
a part whose answer was lost with its connection fails its message transiently and is never resent.
"""
from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from processors.dispatch.provider import Submission, SubmitResult
from processors.dispatch.smpp_codec import THROTTLING, Encoded, status_code, status_detail

FIRST_PAUSE_S = 0.05
MAX_PAUSE_S = 2.0


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
    paused_until: float = 0.0
    pause_s: float = FIRST_PAUSE_S
    in_flight: dict[int, tuple[Job, int, int]] = field(default_factory=dict)  # sequence → (job, part, link generation)
    _ready: deque[Job] = field(default_factory=deque)
    _behind: dict[str, deque[Job]] = field(default_factory=dict)  # destination → its later messages
    _started: OrderedDict[int, Job] = field(default_factory=OrderedDict)
    _unfinished: int = 0

    def __post_init__(self) -> None:
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
        if len(self.in_flight) >= self.size or now < self.paused_until:
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
        if status == 0:
            job.ids[part] = provider_id
            self.pause_s = FIRST_PAUSE_S
        elif status in THROTTLING:
            job.throttled_by = status
            if job.failure is None:
                bisect.insort(job.unsent, part)
            if now >= self.paused_until:  # answers already in flight when the pause began do not lengthen it
                self.paused_until = now + self.pause_s
                self.pause_s = min(MAX_PAUSE_S, self.pause_s * 2)
        elif job.failure is None:
            job.failure = Failure(status_code(status), False, status_detail(status))
        self._settle(job)
        return True

    def link_lost(self, live_generation: int | None) -> None:
        """Every part sent on another link than ``live_generation`` (None: no link) lost its answer."""
        for sequence, (job, _part, generation) in list(self.in_flight.items()):
            if generation != live_generation:
                del self.in_flight[sequence]
                if job.failure is None:
                    job.failure = Failure(None, True, "connection_lost")
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
            return SubmitResult(message_id, False, ids, status_code(job.throttled_by), True, status_detail(job.throttled_by))
        return SubmitResult(message_id, False, ids, None, True, "timeout" if link_up or ids else "not_bound")
