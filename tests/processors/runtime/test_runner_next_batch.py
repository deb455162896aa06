"""How the runner takes its next batch from the consumer: fill-or-wait by default, eager for a lane an OTP rides."""
from __future__ import annotations

from processors.runtime.runner import next_batch


class ScriptedConsumer:
    """``Consumer.consume`` over a queue of records: what is queued now, then what arrives during a wait."""

    def __init__(self, queued: list[str], arriving: list[str] = ()) -> None:
        self.queued = list(queued)
        self.arriving = list(arriving)
        self.calls: list[tuple[int, float]] = []

    def consume(self, size: int, wait_s: float) -> list[str]:
        self.calls.append((size, wait_s))
        if wait_s > 0 and len(self.queued) < size:  # librdkafka waits for the batch to fill, or the time to pass
            self.queued.extend(self.arriving)
            self.arriving = []
        taken, self.queued = self.queued[:size], self.queued[size:]
        return taken


def test_by_default_a_batch_waits_to_fill() -> None:
    consumer = ScriptedConsumer(["a"], arriving=["b", "c"])
    assert next_batch(consumer.consume, 500, 0.05, eager=False) == ["a", "b", "c"]
    assert consumer.calls == [(500, 0.05)]


def test_eager_takes_what_is_fetched_without_waiting() -> None:
    consumer = ScriptedConsumer(["a", "b"], arriving=["c"])
    assert next_batch(consumer.consume, 500, 0.01, eager=True) == ["a", "b"]
    assert consumer.calls == [(500, 0)]


def test_eager_on_an_empty_queue_waits_for_one_record_and_takes_what_came_with_it() -> None:
    consumer = ScriptedConsumer([], arriving=["a", "b", "c"])
    assert next_batch(consumer.consume, 500, 0.01, eager=True) == ["a", "b", "c"]
    assert consumer.calls == [(500, 0), (1, 0.01), (499, 0)]


def test_eager_never_takes_more_than_the_batch_size() -> None:
    consumer = ScriptedConsumer([], arriving=["a", "b", "c"])
    assert next_batch(consumer.consume, 2, 0.01, eager=True) == ["a", "b"]
    assert next_batch(consumer.consume, 1, 0.01, eager=True) == ["c"]


def test_eager_with_nothing_to_come_returns_an_empty_batch_after_the_wait() -> None:
    consumer = ScriptedConsumer([])
    assert next_batch(consumer.consume, 500, 0.01, eager=True) == []
    assert consumer.calls == [(500, 0), (1, 0.01)]
