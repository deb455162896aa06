"""The receipt stage: ``dispatched`` → ``SENT``; ``provider-events`` → delivered, undelivered, expired, read…

Both inputs go through the message's state (``message-state``, keyed by message id): ``dispatched`` opens it, a
report is attributed through it (HTTP reports carry only Courrier's message id) and may only move it forward.
Every input that changes the state also writes the new state, after its receipts.
"""
from __future__ import annotations

from typing import Any, Mapping

from processors.receipt.logic import classify, load_prices, reported, sent, unattributable, unknown_message
from processors.receipt.state import message_id_of, on_dispatched, on_report, source_of
from processors.receipt.store import MessageStates
from processors.runtime.stage import Event, Output, RecordMeta


class ReceiptStage:
    """Normalizes submissions and provider reports into the one receipt schema, keyed by E.164.

    ``states`` is the ``message-state`` table (every instance's writes as read back from the topic).
    """

    name = "receipt"
    inputs = ("dispatched", "provider-events")

    def __init__(self, states: Mapping[str, Event], prices: Mapping[str, Any] | None = None) -> None:
        self._states = MessageStates(states)
        self._prices = prices if prices is not None else load_prices()

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        if meta.topic == "dispatched":
            return self._dispatched(event, meta)
        if meta.topic == "provider-events":
            return self._report(event, meta)
        raise ValueError(f"the receipt stage reads {self.inputs}, not {meta.topic!r}")

    def _dispatched(self, event: Event, meta: RecordMeta) -> list[Output]:
        step = on_dispatched(self._states.get(event["context"]["message_id"]), event, source_of(meta), meta.now)
        outputs = [sent(event, self._prices) for _status in step.statuses]
        return outputs + ([self._states.put(step.state)] if step.state is not None else [])

    def _report(self, event: Event, meta: RecordMeta) -> list[Output]:
        message_id = message_id_of(event) or self._states.by_provider_id(event["provider"], event["provider_message_id"])
        if message_id is None:
            raise unattributable(event)
        state = self._states.get(message_id)
        if state is None:
            raise unknown_message(event, message_id)
        normalized, part = classify(event, state)
        step = on_report(state, normalized.status, source_of(meta), meta.now, part=part)
        outputs = [reported(event, state, status, normalized, part, self._prices) for status in step.statuses]
        return outputs + ([self._states.put(step.state)] if step.state is not None else [])
