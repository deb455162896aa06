"""The receipt stage: ``dispatched`` → ``SENT``; ``provider-events`` → delivered, undelivered, expired, read…;
``rcs-deadline`` → the SMS fallback of an RCS message not delivered in time (without one: ``EXPIRED``), or ``UNKNOWN``
for an SMS or MMS message that no report ended by its validity's end plus a grace.

Every input goes through the message's state (``message-state``, keyed by message id): ``dispatched`` opens it, a
report is attributed through it (HTTP reports carry only Courrier's message id) and may only move it forward.
Every input that changes the state also writes the new state, after its receipts (and the fallback, when it sends it).

Several instances: a message's records meet on one partition (``dispatched``, ``rcs-deadline`` and ``message-state`` are
keyed by message id, and the runner gives every input's partition p to one instance), so the instance owning a message
reads every record about it and holds its state (a co-partitioned table). A report arrives keyed by the provider's id:
attributed through the ``provider-ids`` table, it is put back on ``provider-events`` keyed by its message when another
instance owns that. Two instances never both decide one message (tests/test_scale_out.py).

A report no message can be found for is retried by the runtime (``TransientError``: it may have overtaken its
``dispatched`` event), with capped backoff until ``REPORT_WAIT`` after it occurred and at least until its last attempt
(``courrier-attempt`` header ≥ ``last_attempt``, the runtime's ``RetryPolicy.max_attempts``, after which it would
dead-letter); then it is kept on ``unmatched-reports`` instead and counted in
``courrier_unattributed_reports_total{provider}``: never dropped, never a crash.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Mapping

from prometheus_client import Counter

from common.errors import TransientError
from processors import fallback
from processors.receipt.logic import (
    UnknownMessage, classify, no_report, reported, sent, unattributable, unknown_message, unmatched,
)
from processors.receipt.state import (
    Step, closed_attempt, message_id_of, on_dispatched, on_rcs_deadline, on_report, source_of, superseded_attempt,
)
from processors.receipt.statuses import UNRECOGNIZED
from processors.receipt.store import MessageStates
from processors.rules.prices import load_prices
from processors.runtime import policy
from processors.runtime.stage import Event, Output, RecordMeta
from processors.rules.buttons import button_in

FALLING_BACK = "the SMS fallback is on its way"
SUPERSEDED = "a late report on an attempt the SMS fallback replaced"
# How long a report may wait for its message to be known (its ``dispatched`` read): longer than any backlog a stage
# restarting or catching up should have, short enough that a report for a message we never sent is shown soon.
REPORT_WAIT = timedelta(minutes=15)
CLOSED = "a report after the message was closed UNKNOWN (no delivery report by its deadline)"
UNRECOGNIZED_NOTE = "a status word the receipt stage does not know: kept as provider_status; it does not end the message"

# In the default registry, once per process (several stage instances may share a test process).
UNATTRIBUTED = Counter("courrier_unattributed_reports", "Provider reports no message was found for after their last retry, "
                       "kept on unmatched-reports", ["provider"])


class ReceiptStage:
    """Normalizes submissions and provider reports into the one receipt schema, keyed by E.164.

    ``states`` is the ``message-state`` table (every instance's writes as read back from the topic). ``last_attempt``:
    the retry count (``courrier-attempt``) at which the runtime would dead-letter a report raising again.
    """

    name = "receipt"
    inputs = ("dispatched", "provider-events", "rcs-deadline")

    def __init__(self, states: Mapping[str, Event], prices: Mapping[str, Any] | None = None,
                 last_attempt: int = policy.RetryPolicy().max_attempts, provider_ids: Mapping[str, bytes] | None = None) -> None:
        self._states = MessageStates(states, provider_ids=provider_ids)
        # A co-partitioned message-state table (runtime.table) says whether it holds a message; a dict holds all.
        self._holds: Callable[[str], bool] = getattr(states, "holds", lambda _message_id: True)
        self._prices = prices if prices is not None else load_prices()
        self._last_attempt = last_attempt

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        if meta.topic not in self.inputs:
            raise ValueError(f"the receipt stage reads {self.inputs}, not {meta.topic!r}")
        if meta.topic == "provider-events":
            message_id = message_id_of(event) or self._states.by_provider_id(event["provider"], event["provider_message_id"])
            if message_id is not None and not self._holds(message_id):
                return [self._elsewhere(event, meta, message_id)]
            return self._report(event, meta, message_id)
        message_id = event["context"]["message_id"] if meta.topic == "dispatched" else event["message_id"]
        if not self._holds(message_id):
            return [self._elsewhere(event, meta, message_id)]
        return self._dispatched(event, meta) if meta.topic == "dispatched" else self._rcs_deadline(event, meta)

    @staticmethod
    def _elsewhere(event: Event, meta: RecordMeta, message_id: str) -> Output:
        """A record read on another partition than its message's (a report keyed by the provider's id; a record written
        before inputs were keyed by message id): put back keyed by its message, where the instance owning it reads it."""
        if meta.topic == "provider-events" and not event.get("message_id"):
            event = {**event, "message_id": message_id}
        return Output(meta.topic, message_id, event)

    def _dispatched(self, event: Event, meta: RecordMeta) -> list[Output]:
        step = on_dispatched(self._states.get(event["context"]["message_id"]), event, source_of(meta), meta.now)
        outputs = [sent(event, self._prices) for _status in step.statuses]
        return outputs + self._written(step)

    def _report(self, event: Event, meta: RecordMeta, message_id: str | None) -> list[Output]:
        state = self._states.get(message_id) if message_id is not None else None
        if state is None:
            return self._unmatched(event, meta, unattributable(event) if message_id is None else unknown_message(event, message_id))
        normalized, part = classify(event, state)
        if normalized == UNRECOGNIZED:  # recorded, never moves the message (state.py)
            earlier = superseded_attempt(state, event["provider"], event["provider_message_id"])
            about = {**state, **earlier} if earlier is not None else state
            return [reported(event, about, normalized.status, normalized, part, self._prices, not_final=UNRECOGNIZED_NOTE)]
        step = on_report(state, normalized.status, source_of(meta), meta.now, part=part, provider=event["provider"],
                         provider_message_id=event["provider_message_id"],
                         button=button_in(event.get("raw")) if normalized.status == "CLICKED" else None)
        about = {**state, **step.earlier} if step.earlier is not None else state
        outputs = [reported(event, about, status, normalized, part, self._prices, not_final=self._not_final(step, state))
                   for status in step.statuses]
        return outputs + self._written(step)

    def _unmatched(self, event: Event, meta: RecordMeta, error: TransientError) -> list[Output]:
        """Retry (raise) for ``REPORT_WAIT`` after the report (a stage far behind on ``dispatched`` must not lose its
        reports), at least until the last attempt; then keep it on ``unmatched-reports`` and count it."""
        until = event["occurred_at"] + REPORT_WAIT if event.get("occurred_at") is not None else None
        waiting = until is not None and meta.now < until
        if waiting or policy.attempt_of(list(meta.headers.items())) < self._last_attempt:
            error.retry_until = until if waiting else None
            raise error
        UNATTRIBUTED.labels(event["provider"]).inc()
        return [unmatched(event)]

    def _rcs_deadline(self, event: Event, meta: RecordMeta) -> list[Output]:
        state = self._states.get(event["message_id"])
        if state is None:
            raise UnknownMessage(f"unknown message id {event['message_id']!r}: its deadline came and no dispatched "
                                 "event for it has been read yet")
        if not state["terminal"] and not _knows_attempt(state, event):
            # The deadline of an attempt whose dispatched event is still on its way (an SMS fallback's, under a backlog):
            # wait for it, up to REPORT_WAIT; a deadline of an attempt never announced then does nothing.
            until = event["due_at"] + REPORT_WAIT
            if meta.now < until:
                raise UnknownMessage(f"the deadline of {event['message_id']!r} names an attempt not read yet", retry_until=until)
        step = on_rcs_deadline(state, event, source_of(meta), meta.now)
        return [no_report(state, event, status, self._prices) for status in step.statuses] + self._written(step)

    def _written(self, step: Step) -> list[Output]:
        """The fallback (when the step sends it), then the state; after the step's receipts."""
        if step.state is None:
            return []
        sends = [fallback.send(step.state["fallback"], _fallback_reason(step.state))] if step.fallback else []
        return [*sends, *self._states.put(step.state)]

    @staticmethod
    def _not_final(step: Step, state: Event) -> str | None:
        """Why a step's receipts do not decide the outcome, if they do not."""
        if step.fallback:
            return FALLING_BACK
        if step.earlier is not None:
            return CLOSED if closed_attempt(state, step.earlier) else SUPERSEDED
        return None


def _knows_attempt(state: Event, due: Event) -> bool:
    """Whether the attempt a deadline names is the state's latest or one it superseded."""
    attempt = (due["provider"], list(due["provider_message_ids"]))
    return attempt == (state["provider"], list(state["provider_message_ids"])) or any(
        attempt == (earlier["provider"], list(earlier["provider_message_ids"])) for earlier in state.get("superseded") or ())


def _fallback_reason(state: Event) -> str:
    """Why the message left as SMS: how its RCS attempt ended (the superseded attempt's last status)."""
    attempt = state["superseded"][-1] if state.get("superseded") else None
    status = attempt["status"] if attempt else "SENT"
    return fallback.NOT_DELIVERED_IN_TIME if status == "SENT" else f"rcs_{status.lower()}"
