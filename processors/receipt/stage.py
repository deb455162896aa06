"""The receipt stage: ``dispatched`` → ``sent``; ``provider-events`` → delivered, undelivered, expired…"""
from __future__ import annotations

from processors.receipt.logic import load_prices, reported, sent
from processors.runtime.stage import Event, Output, RecordMeta


class ReceiptStage:
    """Normalizes what providers say into the one receipt schema."""

    name = "receipt"
    inputs = ("dispatched", "provider-events")

    def __init__(self, prices: dict | None = None) -> None:
        self._prices = prices or load_prices()

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        if meta.topic == "dispatched":
            return [sent(event, self._prices, meta.now)]
        return [reported(event, self._prices, meta.now)]
