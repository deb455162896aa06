"""The runtime tells a stage its side outputs are durable (``outputs_delivered``) only once they are, through a real broker.

When the hook runs, the batch's side outputs are readable by a read-committed consumer and its input offsets are
committed; a batch that is not committed does not call it, and the stage's outputs go out with the next batch.
"""
from __future__ import annotations

import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from common.config import Settings
from common.kafka_clients import consumer_config, producer_config
from processors.receipts import receipt
from processors.runtime import checkpoint
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, Output, RecordMeta
from tests.processors.runtime.test_runner_broker import request


class Visible:
    """What a read-committed reader finds right now: receipt message ids, and the group's committed input offsets."""

    def __init__(self, settings: Settings, group_id: str) -> None:
        self._settings = settings
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._reader = Consumer(consumer_config(settings, f"reader-{uuid.uuid4()}", **{"enable.partition.eof": True}))
        self._group = Consumer(consumer_config(settings, group_id))

    def receipts(self) -> list[str]:
        """Every receipt's message id, each partition read from its beginning to its end."""
        physical = self._settings.topic("receipt")
        partitions = self._reader.list_topics(physical, timeout=10).topics[physical].partitions
        found: list[str] = []
        for partition in partitions:
            self._reader.assign([TopicPartition(physical, partition, OFFSET_BEGINNING)])
            at_end, deadline = False, time.monotonic() + 30
            while not at_end and time.monotonic() < deadline:
                for message in self._reader.consume(100, 1.0):
                    if message.error() is None:
                        found.append(self._serde.decode("receipt", message.value())["context"]["message_id"])
                    elif message.error().code() == KafkaError._PARTITION_EOF:
                        at_end = True
        self._reader.unassign()
        return found

    def committed_inputs(self) -> dict[int, int]:
        """The group's committed offset on each input partition (-1001: none yet)."""
        physical = self._settings.topic("send-requested")
        partitions = self._group.list_topics(physical, timeout=10).topics[physical].partitions
        return {tp.partition: tp.offset for tp in self._group.committed([TopicPartition(physical, p) for p in partitions], timeout=10)}

    def close(self) -> None:
        self._reader.close()
        self._group.close()


@dataclass(frozen=True)
class Told:
    """One ``outputs_delivered`` call: the side outputs it confirmed, the inputs of that batch, and what a reader saw then."""

    side: list[str]
    inputs: list[tuple[int, int]]  # (partition, offset) processed in the batch
    visible: list[str]
    committed: dict[int, int]


class SideStage:
    """Answers each request with a receipt; its side receipts are offered at each poll until ``outputs_delivered``.

    ``ticking``: a new side receipt at every poll (a provider that never stops reporting), so every batch has one;
    otherwise only those ``offer`` queued. Each ``outputs_delivered`` notes what a reader can see at that moment."""

    name = "side"
    inputs = ("send-requested",)

    def __init__(self, ticking: bool) -> None:
        self.visible: Visible | None = None
        self._ticking = ticking
        self._ticks = 0
        self._incoming: queue.SimpleQueue[Output] = queue.SimpleQueue()
        self._unconfirmed: list[Output] = []
        self._batch_inputs: list[tuple[int, int]] = []
        self.polled: list[list[str]] = []
        self.told: list[Told] = []

    def offer(self, message_id: str) -> None:
        now = datetime.now(timezone.utc)
        self._incoming.put(receipt({"message_id": message_id, "lane": "TRANSACTIONAL", "requested_at": now},
                                   "+33612345678", "DELIVERED", self.name, now))

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        self._batch_inputs.append((meta.partition, meta.offset))
        return [receipt(event["context"], event["recipient"], "SENT", self.name, meta.now)]

    def poll_outputs(self) -> list[Output]:
        """Called once per loop, before the batch's records are processed."""
        self._batch_inputs = []
        if self._ticking:
            self._ticks += 1
            self.offer(f"side-{self._ticks}")
        while not self._incoming.empty():
            self._unconfirmed.append(self._incoming.get())
        if self._unconfirmed:
            self.polled.append([_id(o) for o in self._unconfirmed])
        return list(self._unconfirmed)

    def outputs_delivered(self) -> None:
        assert self.visible is not None
        side, self._unconfirmed = [_id(o) for o in self._unconfirmed], []
        self.told.append(Told(side, list(self._batch_inputs), self.visible.receipts(), self.visible.committed_inputs()))


def _id(output: Output) -> str:
    return output.value["context"]["message_id"]


def publish_requests(settings: Settings, ids: list[str]) -> None:
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    for message_id in ids:
        producer.produce(settings.topic("send-requested"), key="+33612345678", value=serde.encode("send-requested", request(message_id, "ok")))
    assert producer.flush(30) == 0


def started(settings: Settings, exactly_once: bool, ticking: bool) -> tuple[SideStage, Runner, threading.Thread]:
    stage = SideStage(ticking)
    runner = Runner(stage, settings, RunnerOptions(batch_size=50, exactly_once=exactly_once, metrics_port=0))
    stage.visible = Visible(settings, runner.group_id)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    return stage, runner, thread


def stopped(stage: SideStage, runner: Runner, thread: threading.Thread) -> None:
    runner.stop()
    thread.join(30)
    assert stage.visible is not None
    stage.visible.close()


def wait_until(check, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)
    return check()


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
def test_the_stage_hears_of_its_side_outputs_once_they_are_readable_and_the_inputs_committed(
        topic_settings: Settings, exactly_once: bool) -> None:
    stage, runner, thread = started(topic_settings, exactly_once, ticking=True)
    try:
        assert wait_until(lambda: stage.told)
        publish_requests(topic_settings, ["input-1", "input-2"])
        assert wait_until(lambda: sum(len(t.inputs) for t in stage.told) >= 2)
    finally:
        stopped(stage, runner, thread)
    for told in stage.told:
        assert set(told.side) <= set(told.visible), f"told before its side outputs could be read: {told}"
        assert all(told.committed.get(partition, -1) > offset for partition, offset in told.inputs), (
            f"told before the batch's inputs were committed: {told}")
    assert {"input-1", "input-2"} <= set(stage.told[-1].visible)


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
def test_an_uncommitted_batch_does_not_tell_the_stage_and_its_side_outputs_go_with_the_next(
        topic_settings: Settings, exactly_once: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    commit = checkpoint.Checkpoint.commit
    failures: list[float] = []

    def fails_once(self: checkpoint.Checkpoint, points: dict[tuple[str, int], int] | None = None) -> None:
        if not failures:
            failures.append(time.monotonic())
            raise checkpoint.DeliveryFailed("injected: the broker did not acknowledge the batch")
        commit(self, points)

    monkeypatch.setattr(checkpoint.Checkpoint, "commit", fails_once)
    stage, runner, thread = started(topic_settings, exactly_once, ticking=False)
    try:
        stage.offer("side-1")
        assert wait_until(lambda: stage.told)
    finally:
        stopped(stage, runner, thread)
    assert failures, "the injected failure never ran"
    assert stage.polled[:2] == [["side-1"], ["side-1"]], "the aborted batch's side output was not offered again"
    [told] = stage.told
    assert told.side == ["side-1"] and "side-1" in told.visible
    if exactly_once:
        assert told.visible.count("side-1") == 1, "the aborted transaction's copy must stay invisible"
