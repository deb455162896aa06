"""The receipt stage: ``dispatched`` → ``SENT``; ``provider-events`` → delivered, undelivered, expired, read…"""
from __future__ import annotations

from typing import Any, Mapping

from processors.receipt.logic import load_prices, reported, sent
from processors.runtime.stage import Event, Output, RecordMeta


class ReceiptStage:
    """Normalizes submissions and provider reports into the one receipt schema, keyed by E.164."""

    name = "receipt"
    inputs = ("dispatched", "provider-events")

    def __init__(self, prices: Mapping[str, Any] | None = None) -> None:
        self._prices = prices if prices is not None else load_prices()

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        if meta.topic == "dispatched":
            return [sent(event, self._prices)]
        if meta.topic == "provider-events":
            return [reported(event)]
        raise ValueError(f"the receipt stage reads {self.inputs}, not {meta.topic!r}")
