"""Watching the ``receipt`` and ``dead-letter`` topics for the outcome of known messages (demo, tests, benchmarks)."""
from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable

from confluent_kafka import Consumer

from common.config import Settings
from common.kafka_clients import assign_at_end, consumer_config
from processors.runtime import policy
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event


@dataclass
class Outcomes:
    """Every receipt seen per message id, and the dead-letter records seen (as headers)."""

    receipts: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    dead_letters: list[dict[str, str | None]] = field(default_factory=list)

    def terminal(self, message_id: str) -> list[Event]:
        return [r for r in self.receipts.get(message_id, []) if r["terminal"]]

    def done(self, message_ids: Iterable[str]) -> int:
        return sum(1 for m in message_ids if self.terminal(m))


class OutcomeWatcher:
    """Reads ``receipt`` and ``dead-letter`` from the offsets they had when it was created."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._consumer = Consumer(consumer_config(settings, f"courrier-watch-{uuid.uuid4()}"))
        self._receipt_topic = settings.topic("receipt")
        self._dlq_topic = settings.topic("dead-letter")
        self.outcomes = Outcomes()
        assign_at_end(self._consumer, [self._receipt_topic, self._dlq_topic])

    def poll(self, timeout_s: float = 0.2) -> int:
        """Read what arrived; returns how many records were read."""
        messages = self._consumer.consume(1000, timeout_s)
        for message in messages:
            if message.error():
                continue
            if message.topic() == self._receipt_topic:
                receipt = self._serde.decode("receipt", message.value())
                self.outcomes.receipts[receipt["context"]["message_id"]].append(receipt)
            else:
                names = (policy.STAGE, policy.ERROR_CLASS, policy.ERROR_MESSAGE, policy.SOURCE_TOPIC)
                self.outcomes.dead_letters.append({n: policy.header(message.headers(), n) for n in names})
        return len(messages)

    def wait_terminal(self, message_ids: Iterable[str], timeout_s: float, on_progress: Callable[[int], None] | None = None) -> Outcomes:
        """Poll until every message has a terminal receipt or ``timeout_s`` passes."""
        wanted = list(message_ids)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.poll()
            done = self.outcomes.done(wanted)
            if on_progress:
                on_progress(done)
            if done >= len(wanted):
                break
        return self.outcomes

    def close(self) -> None:
        self._consumer.close()
