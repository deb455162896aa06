"""Test helper: runs a receipt stage over inputs as the runtime would, and keeps what it wrote."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

from fastavro.validation import validate

import schemas
from processors.receipt.stage import ReceiptStage
from processors.runtime.stage import Event, Output, RecordMeta
from topology.topics import topic as declared


class Feeder:
    """Runs a receipt stage over inputs as the runtime would: each input at a new offset of its topic's partition 0.

    ``states`` is the stage's table; ``written`` collects the message-state records, as the topic would;
    ``fallbacks`` the SMS fallbacks it sent (to a lane's ``rendered`` topic).
    """

    NOW = datetime(2026, 3, 2, 9, 5, tzinfo=timezone.utc)

    def __init__(self, states: dict[str, Event] | None = None, prices: dict[str, Any] | None = None) -> None:
        self.states = states if states is not None else {}
        self.stage = ReceiptStage(self.states, prices)
        self._offsets = itertools.count()
        self.receipts: list[Event] = []
        self.written: list[Event] = []
        self.fallbacks: list[Output] = []

    def meta(self, topic: str, offset: int | None = None) -> RecordMeta:
        return RecordMeta(topic=topic, partition=0, offset=next(self._offsets) if offset is None else offset, key="k", now=self.NOW)

    def feed(self, topic: str, event: Event, offset: int | None = None) -> list[Output]:
        outputs = self.stage.process(event, self.meta(topic, offset))
        for output in outputs:
            validate(output.value, schemas.parsed_schema(declared(output.topic).value_schema), raise_errors=True)
            if output.topic == "receipt":
                self.receipts.append(output.value)
            elif output.topic == "message-state":
                self.written.append(output.value)
            else:
                self.fallbacks.append(output)
        return outputs

    def receipts_of(self, outputs: list[Output]) -> list[Event]:
        return [o.value for o in outputs if o.topic == "receipt"]

