"""Releasing one batch of messages at their senders' pace: the waves, the last check, the ledger, the submit.

Each sender's messages keep their order. A wave takes, for every sender, the messages its budget
lets go now; each is checked (``gate``: consent, campaign) and routed (``Router``) right then,
written SUBMITTING in the ledger, and submitted with the rest of the wave. Then the batch sleeps
until the next sender is ready — other senders are never held behind a slow one within the batch.
A message whose sender cannot take it within ``hold_s`` of the batch's start is not held: it and
every later message of that sender go back to their topic through ``scheduled`` (an output with
``deliver_at``; no retry attempt is spent), timed for their slots (back ``hold_s / 2`` early, to be
paced precisely). The ``Pacer`` keeps them in the sender's order: new messages queue behind them,
and one that comes back before those ahead of it waits again, so a sender's order survives the
detour and the consumer never blocks for long.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable, Mapping, Protocol

from common.errors import TransientError
from processors import fallback
from processors.dispatch import gate, logic, pacing
from processors.dispatch.pacing import Admission, Deferral, Pacer
from processors.dispatch.provider import Provider, Submission
from processors.dispatch.reports import EventSink
from processors.dispatch.router import NO_PROVIDER, Router
from processors.dispatch.validity import Validity
from processors.runtime.stage import Event, Output, RecordMeta

log = logging.getLogger(__name__)
Result = list[Output] | BaseException | None


class Ledger(Protocol):
    """What dispatch needs of the submissions ledger (``processors.dispatch.ledger.SubmissionLedger`` in production)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def state(self, message_id: str) -> Event | None: ...

    def write(self, records: Iterable[Event]) -> None: ...

    def remember(self, records: Iterable[Event]) -> list[Output]:
        """Make ``records`` what ``state`` answers in this process now, and return them as the batch's outputs (they
        become durable when the batch commits), in order."""
        ...

    def write_later(self, records: Iterable[Event]) -> None: ...

    def event_sink(self) -> EventSink: ...


@dataclass(frozen=True)
class Waiting:
    """A message of the batch that the ledger allows to submit, with where its result goes."""

    index: int
    submission: Submission
    event: Event
    meta: RecordMeta
    previous: Event | None  # its last ledger record (FAILED: an earlier attempt was refused), if any


@dataclass(frozen=True)
class _Paced:
    waiting: Waiting
    key: str
    rate: float
    segments: int


class Release:
    """Runs the waves of one batch; shared state (budgets) lives in the ``Pacer``, the rest is per call.

    A wave is at most ``wave_size`` messages: the ledger says SUBMITTING for a whole wave before it is submitted, so
    a crash leaves at most one wave whose outcome is unknown (an SMPP peer cannot be asked; those end ``failed``).
    """

    def __init__(self, ledger: Ledger, consents: Mapping[str, Event], campaigns: Mapping[str, Event], pacer: Pacer | None,
                 priority: bool, hold_s: float, submit_timeout_s: float, clock: Callable[[], float],
                 sleep: Callable[[float], None], scope: str = "", wave_size: int = 200, validity: Validity = Validity()) -> None:
        self._ledger = ledger
        self._validity = validity
        self._wave_size = wave_size
        self._consents = consents
        self._campaigns = campaigns
        self._pacer = pacer
        self._priority = priority
        self._hold_s = hold_s
        self._lead_s = hold_s / 2
        self._scope = scope
        self._timeout_s = submit_timeout_s
        self._clock = clock
        self._sleep = sleep

    def run(self, waiting: list[Waiting], router: Router, results: list[Result], started: float) -> None:
        """Fill ``results`` for every waiting message: outputs (maybe itself, deferred), or an error to retry; never None."""
        queues: dict[str, list[_Paced]] = {}
        for item in waiting:
            try:
                paced = self._paced(item)
            except ValueError as exc:  # no limit known for its sender: this record dead-letters, the batch goes on
                results[item.index] = exc
                continue
            admission = self._pacer.admit(self._backlog(paced), item.submission.message_id, started) if self._pacer else Admission.GO
            if admission is Admission.GO:
                queues.setdefault(paced.key, []).append(paced)
            elif admission is Admission.BEHIND:
                assert self._pacer is not None
                [deferral] = self._pacer.defer_back(self._backlog(paced), paced.rate, [(item.submission.message_id, paced.segments)],
                                                    started, started, self._lead_s)
                results[item.index] = self._deferred(paced, deferral)
            else:
                assert self._pacer is not None
                results[item.index] = self._deferred(paced, self._pacer.defer_keep(self._backlog(paced), item.submission.message_id,
                                                                                   started, self._lead_s))
        claimed: set[str] = set()
        try:
            self._waves(queues, router, results, started, claimed)
        finally:
            for key in claimed:
                assert self._pacer is not None
                self._pacer.release(key)

    def settled(self, event: Event) -> None:
        """A message of the batch that ended before pacing (expired, answered from the ledger): it holds no one back."""
        if self._pacer is not None:
            self._pacer.forget(f"{self._scope}|{pacing.budget_key(event)}", fallback.submission_id(event))

    def _paced(self, item: Waiting) -> _Paced:
        if self._pacer is None:
            return _Paced(item, "", math.inf, 1)
        return _Paced(item, pacing.budget_key(item.event), self._pacer.rate(item.event), pacing.cost(item.event))

    def _waves(self, queues: dict[str, list[_Paced]], router: Router, results: list[Result], started: float,
               claimed: set[str]) -> None:
        # The hold counts from the first wave: lookups of unknown outcomes after a crash may have taken longer than it.
        deadline = max(started, self._clock()) + self._hold_s
        heads = {key: 0 for key in queues}
        while heads:
            now = self._clock()
            wave: list[tuple[_Paced, Provider]] = []
            taken: list[tuple[str, float]] = []
            wake = math.inf
            for key in list(heads):
                queue = queues[key]
                while heads[key] < len(queue) and len(wave) < self._wave_size:
                    paced = queue[heads[key]]
                    ready = self._ready_at(paced, now)
                    if ready > max(now, deadline):  # a message its budget takes now goes now, whatever the clock says
                        self._defer_rest(queue[heads[key]:], ready, started, results)
                        heads[key] = len(queue)
                        break
                    if ready > now:
                        wake = min(wake, ready)
                        if self._priority and self._pacer is not None and key not in claimed:
                            self._pacer.claim(key)
                            claimed.add(key)
                        break
                    heads[key] += 1
                    provider = self._last_check(paced, router, results, started)
                    if provider is None:
                        continue
                    if self._pacer is not None:
                        self._pacer.take(key, paced.rate, paced.segments, now)
                        taken.append((key, now))
                    if key in claimed:
                        assert self._pacer is not None
                        self._pacer.release(key)
                        claimed.discard(key)
                    wave.append((paced, provider))
                if heads[key] >= len(queue):
                    del heads[key]
            if wave and not self._submit(wave, taken, router, results, started):
                for key, head in heads.items():
                    for paced in queues[key][head:]:
                        results[paced.waiting.index] = TransientError("submissions ledger not confirmed; not submitted")
                return
            if not wave and heads:
                self._sleep(max(0.0, min(wake, deadline) - self._clock()))

    def _ready_at(self, paced: _Paced, now: float) -> float:
        if self._pacer is None:
            return now
        return self._pacer.ready_at(paced.key, paced.rate, paced.segments, now, self._priority)

    def _last_check(self, paced: _Paced, router: Router, results: list[Result], started: float) -> Provider | None:
        """The gate (consent, campaign) as the tables stand now, then a provider; None when the message does not go."""
        item = paced.waiting
        refused = gate.check(item.event, self._consents, self._campaigns, self._wall(item.meta, started))
        if refused is not None:
            results[item.index] = [refused]
            return None
        provider = router.choose(item.event["channel"], item.event["recipient"]["region"])
        if provider is None:
            # Retried with capped backoff until its validity ends, however long the outage; then it ends expired.
            results[item.index] = TransientError(f"{NO_PROVIDER}: every provider for {item.event['channel']} is down or open",
                                                 retry_until=self._validity.retry_until(item.event))
        return provider

    def _submit(self, wave: list[tuple[_Paced, Provider]], taken: list[tuple[str, float]], router: Router,
                results: list[Result], started: float) -> bool:
        """SUBMITTING (durable) then submit; False (and the wave transient) when the ledger does not confirm.

        The SUBMITTED/FAILED records after the answers ride the batch's own transaction, beside the ``dispatched``
        record or receipt they explain: a crash before the batch commits leaves SUBMITTING (unknown, reconciled, never
        resent) with nothing announced, so ledger and announcements never disagree. A transient refusal's FAILED
        record has no outputs to ride with (its record goes to the retry topic): it is queued on the ledger's own
        producer, unflushed; lost with a crash, it leaves SUBMITTING, the safe side."""
        records = [logic.ledger_record(p.waiting.submission.message_id, "SUBMITTING", provider.name, [], p.waiting.previous,
                                       self._wall(p.waiting.meta, started)) for p, provider in wave]
        try:
            self._ledger.write(records)
        except TransientError as exc:
            for paced, _provider in wave:
                results[paced.waiting.index] = exc
            return False
        if self._pacer is not None:
            self._pacer.restamp(taken, self._clock())
        answers = router.submit([(provider, p.waiting.submission) for p, provider in wave], self._timeout_s)
        riding: list[tuple[int, Event]] = []  # (the result whose outputs it rides with, record)
        unattached: list[Event] = []
        for (paced, provider), answer, submitting in zip(wave, answers, records):
            item = paced.waiting
            at = self._wall(item.meta, started)
            result: Result = logic.outcome(item.event, provider.name, answer, at, self._validity)
            state = logic.after_answer(answer)
            if state is not None:
                record = logic.ledger_record(item.submission.message_id, state, provider.name,
                                             list(answer.provider_message_ids), submitting, at)
                if isinstance(result, list):
                    riding.append((item.index, record))
                else:
                    unattached.append(record)
            results[item.index] = result
        # Read-your-writes in this process before the batch commits (a replay after an abort).
        for (index, _record), output in zip(riding, self._ledger.remember([record for _index, record in riding])):
            results[index] = [*results[index], output]  # type: ignore[misc]  # a list: riding holds those
        if unattached:
            self._ledger.write_later(unattached)
        return True

    def _defer_rest(self, rest: list[_Paced], ready: float, started: float, results: list[Result]) -> None:
        """A sender's messages its budget cannot take within the hold: back to their topic at their slots, in order,
        ahead of the sender's other deferred messages (they came first)."""
        assert self._pacer is not None, "only paced messages wait for a slot"
        first = rest[0]
        deferrals = self._pacer.defer_front(self._backlog(first), first.rate,
                                            [(p.waiting.submission.message_id, p.segments) for p in rest], ready, started, self._lead_s)
        for paced, deferral in zip(rest, deferrals):
            results[paced.waiting.index] = self._deferred(paced, deferral)

    def _deferred(self, paced: _Paced, deferral: Deferral) -> list[Output]:
        """The message itself, to come back on its own topic (``deliver_at``: through ``scheduled``, no retry counted)."""
        item = paced.waiting
        log.debug("paced", extra={"message_id": item.submission.message_id, "sender": item.submission.sender_id,
                                  "rate": paced.rate, "delay_s": round(deferral.delay_s, 3)})
        return [Output(item.meta.topic, item.meta.key or item.submission.sender_id, item.event,
                       deliver_at=item.meta.now + timedelta(seconds=deferral.delay_s))]

    def _backlog(self, paced: _Paced) -> str:
        """Backlogs are per lane (an OTP never queues behind a campaign's deferred messages); budgets are shared."""
        return f"{self._scope}|{paced.key}"

    def _wall(self, meta: RecordMeta, started: float) -> datetime:
        """The wall-clock time now, from the batch's clock and how long the batch has run."""
        return meta.now + timedelta(seconds=max(0.0, self._clock() - started))
