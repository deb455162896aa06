"""The bookkeeping of one windowed submission run, with no socket: what to send next, on which bind, what each answer
means.

Rules: at most ``pace.size`` submit_sm outstanding on each bind (every bind has its own ``Pace``); messages to one
destination go one after the other (the next starts when the previous has its final answer, so throttling never
reorders them); answers are classed by ``errors``: a throttled part is sent again, first, after a pause that doubles
while the SMSC keeps throttling, and that bind's window shrinks (``Pace``); a transient refusal (ESME_RSYSERR…) ends
the message transient, to be retried later, and holds that destination's later messages (``held_for_order``); any
other refusal is permanent; a part whose answer was lost with its connection fails its message transiently and is
never resent; a part whose bytes provably never left (``withdraw``) is sent again like a throttled one.
"""
from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from processors.dispatch.provider import Submission, SubmitResult
from processors.providers.smpp.codec import Encoded
from processors.providers.smpp.errors import (CONNECTION_LOST, HELD_FOR_ORDER, NOT_BOUND, NOT_SUBMITTED, TIMEOUT, ErrorClass, classify,
                                             status_code, status_name)

LinkKey = tuple[int, int]  # (bind index, link generation): the connection a part went out on

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
    """One submission on its way: its payloads, the parts still to send and the ids the SMSC gave.

    ``bodies`` are the parts' submit_sm bodies, encoded once (a throttled part goes out again as it was)."""

    index: int
    submission: Submission
    source: tuple[int, int, str]
    encoded: Encoded
    ids: list[str | None]
    unsent: list[int]
    throttled_by: int | None = None
    throttles: int = 0
    failure: Failure | None = None
    bodies: list[bytes] = field(default_factory=list)

    @classmethod
    def of(cls, index: int, submission: Submission, source: tuple[int, int, str], encoded: Encoded,
           bodies: list[bytes] | None = None) -> Job:
        parts = len(encoded.payloads)
        return cls(index, submission, source, encoded, [None] * parts, list(range(parts)), bodies=bodies or [])

    @classmethod
    def refused(cls, index: int, submission: Submission, detail: str) -> Job:
        """A submission that cannot be sent at all (unsupported sender type, too long…): a permanent failure."""
        return cls(index, submission, (0, 0, ""), Encoded([], 0, 0), [], [], failure=Failure(None, False, detail))

    @property
    def finished(self) -> bool:
        return self.failure is not None or (bool(self.ids) and all(i is not None for i in self.ids))


@dataclass
class Window:
    """One ``submit_many`` run over the provider's binds; the caller sends what ``next_part`` gives and reports every
    answer, lost link and withdrawn part. ``paces`` are the binds' own (kept by the provider across runs)."""

    jobs: list[Job]
    paces: list[Pace]
    throttle_resends: int | None = None  # a part throttled more often ends its message transient; None: while time remains
    in_flight: dict[int, tuple[Job, int, LinkKey]] = field(default_factory=dict)  # sequence → (job, part, link)
    _load: list[int] = field(default_factory=list)  # parts in flight per bind
    _ready: deque[Job] = field(default_factory=deque)
    _behind: dict[str, deque[Job]] = field(default_factory=dict)  # destination → its later messages
    _started: OrderedDict[int, Job] = field(default_factory=OrderedDict)
    _unfinished: int = 0

    def __post_init__(self) -> None:
        if not self.paces:
            raise ValueError("a window needs at least one bind")
        self._load = [0] * len(self.paces)
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

    def room(self, bind: int, now: float) -> bool:
        """Whether ``bind`` may take one more submit_sm now (its window is not full and it is not paused)."""
        pace = self.paces[bind]
        return self._load[bind] < pace.size and now >= pace.paused_until

    def next_part(self, now: float, bind: int = 0) -> tuple[Job, int] | None:
        """The next ``(job, part)`` to send on ``bind``, or None while its window is full, the SMSC is throttling it, or
        nothing is left."""
        if not self.room(bind, now):
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

    def sent(self, sequence: int, job: Job, part: int, link: LinkKey) -> None:
        self.in_flight[sequence] = (job, part, link)
        self._load[link[0]] += 1

    def answered(self, sequence: int, status: int, provider_id: str, now: float) -> bool:
        """Apply one submit_sm_resp (or generic_nack); False when the sequence is not this run's."""
        slot = self._take(sequence)
        if slot is None:
            return False
        job, part, (bind, _generation) = slot
        pace = self.paces[bind]
        kind = classify(status) if status else None
        if kind is None:
            job.ids[part] = provider_id
            pace.accepted()
        elif kind is ErrorClass.THROTTLE:
            job.throttled_by, job.throttles = status, job.throttles + 1
            if self.throttle_resends is not None and job.throttles > self.throttle_resends and job.failure is None:
                job.failure = Failure(status_code(status), True, status_name(status))
            elif job.failure is None:
                bisect.insort(job.unsent, part)
            pace.throttled(now)
        elif job.failure is None:  # RETRY: the SMSC did not take it, the record is retried; PERMANENT: it ends failed
            job.failure = Failure(status_code(status), kind is ErrorClass.RETRY, status_name(status))
        self._settle(job)
        return True

    def withdraw(self, sequence: int) -> bool:
        """A part whose bytes never reached the socket: it goes back to be sent again (it cannot have reached the SMSC)."""
        slot = self._take(sequence)
        if slot is None:
            return False
        job, part, _link = slot
        if job.failure is None:
            bisect.insort(job.unsent, part)
        self._settle(job)
        return True

    def link_lost(self, live: Mapping[int, int | None]) -> None:
        """Every part sent on a link that is no longer its bind's live one (``live``: bind → generation, None while down)
        lost its answer."""
        for sequence, (job, _part, (bind, generation)) in list(self.in_flight.items()):
            if live.get(bind) != generation:
                self._take(sequence)
                if job.failure is None:
                    job.failure = Failure(None, True, CONNECTION_LOST)
                self._settle(job)

    def results(self, link_up: bool, down: str = NOT_BOUND) -> list[SubmitResult]:
        """One final result per submission, in input order; what is unfinished now is transient (``down``: why nothing
        could be sent while no link is up)."""
        return [self._result(job, link_up, down) for job in self.jobs]

    def _take(self, sequence: int) -> tuple[Job, int, LinkKey] | None:
        slot = self.in_flight.pop(sequence, None)
        if slot is not None:
            self._load[slot[2][0]] -= 1
        return slot

    def _settle(self, job: Job) -> None:
        """A finished message lets the next one to its destination start; one that failed transiently holds them all
        (transient ``held_for_order``): they are tried again after it, never before."""
        if not job.finished or self._started.pop(job.index, None) is None:
            return
        self._unfinished -= 1
        queue = self._behind.get(job.submission.destination)
        if not queue:
            return
        if job.failure is not None and job.failure.transient:
            for held in queue:
                held.failure = Failure(None, True, HELD_FOR_ORDER)
                self._unfinished -= 1
            queue.clear()
        else:
            self._ready.appendleft(queue.popleft())

    def _result(self, job: Job, link_up: bool, down: str) -> SubmitResult:
        """An unfinished message is an unknown outcome (``timeout``) once any of it may have reached the SMSC: a part
        unanswered, or some parts accepted and others not sent (sending it again would repeat those); otherwise
        nothing of it is at the SMSC, and it is throttled, ``down`` or ``not_submitted``, to be tried again."""
        message_id, ids = job.submission.message_id, [i for i in job.ids if i is not None]
        if job.failure is not None:
            f = job.failure
            return SubmitResult(message_id, False, ids, f.error_code, f.transient, f.detail)
        if job.finished:
            return SubmitResult(message_id, True, ids, None, False, None)
        if ids or any(slot[0] is job for slot in self.in_flight.values()):
            return SubmitResult(message_id, False, ids, None, True, TIMEOUT)
        if job.throttled_by is not None:
            return SubmitResult(message_id, False, ids, status_code(job.throttled_by), True, status_name(job.throttled_by))
        return SubmitResult(message_id, False, ids, None, True, NOT_SUBMITTED if link_up else down)
