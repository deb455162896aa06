"""The receipt stage: ``dispatched`` → ``SENT``; ``provider-events`` → delivered, undelivered, expired, read…;
``rcs-deadline`` → the SMS fallback of an RCS message not delivered in time (without one: ``EXPIRED``).

Every input goes through the message's state (``message-state``, keyed by message id): ``dispatched`` opens it, a
report is attributed through it (HTTP reports carry only Courrier's message id) and may only move it forward.
Every input that changes the state also writes the new state, after its receipts (and the fallback, when it sends it).
"""
from __future__ import annotations

from typing import Any, Mapping

from processors import fallback
from processors.receipt.logic import (
    UnknownMessage, classify, load_prices, no_report, reported, sent, unattributable, unknown_message,
)
from processors.receipt.state import Step, message_id_of, on_dispatched, on_rcs_deadline, on_report, source_of
from processors.receipt.store import MessageStates
from processors.runtime.stage import Event, Output, RecordMeta

FALLING_BACK = "the SMS fallback is on its way"
SUPERSEDED = "a late report on an attempt the SMS fallback replaced"


class ReceiptStage:
    """Normalizes submissions and provider reports into the one receipt schema, keyed by E.164.

    ``states`` is the ``message-state`` table (every instance's writes as read back from the topic).
    """

    name = "receipt"
    inputs = ("dispatched", "provider-events", "rcs-deadline")

    def __init__(self, states: Mapping[str, Event], prices: Mapping[str, Any] | None = None) -> None:
        self._states = MessageStates(states)
        self._prices = prices if prices is not None else load_prices()

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        if meta.topic == "dispatched":
            return self._dispatched(event, meta)
        if meta.topic == "provider-events":
            return self._report(event, meta)
        if meta.topic == "rcs-deadline":
            return self._rcs_deadline(event, meta)
        raise ValueError(f"the receipt stage reads {self.inputs}, not {meta.topic!r}")

    def _dispatched(self, event: Event, meta: RecordMeta) -> list[Output]:
        step = on_dispatched(self._states.get(event["context"]["message_id"]), event, source_of(meta), meta.now)
        outputs = [sent(event, self._prices) for _status in step.statuses]
        return outputs + self._written(step)

    def _report(self, event: Event, meta: RecordMeta) -> list[Output]:
        message_id = message_id_of(event) or self._states.by_provider_id(event["provider"], event["provider_message_id"])
        if message_id is None:
            raise unattributable(event)
        state = self._states.get(message_id)
        if state is None:
            raise unknown_message(event, message_id)
        normalized, part = classify(event, state)
        step = on_report(state, normalized.status, source_of(meta), meta.now, part=part, provider=event["provider"],
                         provider_message_id=event["provider_message_id"])
        about = {**state, **step.earlier} if step.earlier is not None else state
        not_final = FALLING_BACK if step.fallback else SUPERSEDED if step.earlier is not None else None
        outputs = [reported(event, about, status, normalized, part, self._prices, not_final=not_final) for status in step.statuses]
        return outputs + self._written(step)

    def _rcs_deadline(self, event: Event, meta: RecordMeta) -> list[Output]:
        state = self._states.get(event["message_id"])
        if state is None:
            raise UnknownMessage(f"unknown message id {event['message_id']!r}: its RCS deadline came and no dispatched "
                                 "event for it has been read yet")
        step = on_rcs_deadline(state, event, source_of(meta), meta.now)
        return [no_report(state, event, self._prices) for _status in step.statuses] + self._written(step)

    def _written(self, step: Step) -> list[Output]:
        """The fallback (when the step sends it), then the state; after the step's receipts."""
        if step.state is None:
            return []
        sends = [fallback.send(step.state["fallback"], _fallback_reason(step.state))] if step.fallback else []
        return [*sends, self._states.put(step.state)]


def _fallback_reason(state: Event) -> str:
    """Why the message left as SMS: how its RCS attempt ended (the superseded attempt's last status)."""
    attempt = state["superseded"][-1] if state.get("superseded") else None
    status = attempt["status"] if attempt else "SENT"
    return "rcs_not_delivered_in_time" if status == "SENT" else f"rcs_{status.lower()}"
