"""The one loop every stage runs on: consume a batch → decode → process → encode → produce → commit.

Failures are data: a record that cannot be decoded, or makes the stage raise, goes to
``dead-letter`` with its original bytes and the stage goes on; a ``TransientError`` sends it to
``retry`` (the scheduler brings it back when due). An output with a ``deliver_at`` goes to
``scheduled`` (deadlines: ``timers``) the same way, to reach its topic at that time. Those decisions are
``runtime.routing``'s, the loop the in-process harness (``runtime.testing``) runs too; here they meet Kafka.
SIGTERM finishes the batch, commits, closes.

Side outputs (``poll_outputs``) go out with the batch that polled them; once that batch is durable the
stage hears it (``outputs_delivered``), so it can acknowledge its own source only then; when it is aborted the stage
hears that too (``batch_aborted``) and offers the same outputs again. The optional hooks are listed in
``runtime.stage.Hooks``; the commit story is ``runtime.checkpoint``'s docstring.

Exactly-once is the default: a batch's outputs, its dead-letter and retry records and its input offsets are one
Kafka transaction, so a stage killed at any moment leaves either all of a batch or none of it to ``read_committed``
readers, and its successor reads the same inputs again.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Protocol, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from common.config import Settings
from common.kafka_clients import consumer_config, producer_config, require_broker, require_topics
from processors.runtime import policy
from processors.runtime.checkpoint import Checkpoint, DeliveryErrors, DeliveryFailed
from processors.runtime.metrics import MetricsServer, StageMetrics
from processors.runtime.placement import Placement
from processors.runtime.routing import Router
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Hooks, Output, Stage
from topology.topics import lane_inputs, topic as declared_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerOptions:
    """How a stage runs: batch shape, delivery guarantee, retries and where metrics are served."""

    batch_size: int = 500
    batch_timeout_s: float = 0.2
    # Take a batch as soon as one record is there (what else is already fetched comes with it) instead of waiting
    # ``batch_timeout_s`` for it to fill: a lane where each hop's wait adds to a person's wait (an OTP).
    eager: bool = False
    exactly_once: bool = True
    retry: policy.RetryPolicy = policy.RetryPolicy()
    metrics_port: int | None = None
    group_id: str | None = None
    # Every input's partition p to the same instance (Kafka's range assignor, an eager rebalance): for a stage whose
    # inputs are keyed alike (receipt: by message id), so one instance holds all of a key's records and its state.
    co_assigned_inputs: bool = False
    # The topics to read: a lane's (``runtime.lanes``); by default every lane's topics of the stage's ``inputs``.
    inputs: tuple[str, ...] | None = None
    lane: str | None = None  # the lane those inputs are (said in the logs), None when the runner reads every lane


class CoPartitionedTable(Protocol):
    """A table holding only the partitions its stage reads of one input, ``partner`` (a physical topic name):
    ``runtime.table.TopicTable(co_partitioned_with=...)``."""

    partner: str | None

    def assign(self, partitions: list[int], input_count: int) -> None: ...

    def revoke(self, partitions: list[int]) -> None: ...


class Runner:
    """Runs one stage until stopped; owns the consumer, the producer, commits, dead-letters, retries and metrics.

    ``state`` are the stage's co-partitioned tables: each restores a partition when the group assigns it, before the
    stage reads a record of it, and lets it go when it is revoked."""

    def __init__(self, stage: Stage, settings: Settings, options: RunnerOptions = RunnerOptions(), clock: Callable[[], datetime] | None = None,
                 state: Sequence[CoPartitionedTable] = ()) -> None:
        self.stage = stage
        self._state = list(state)
        self._input_counts: dict[str, int] = {}
        self.settings = settings
        self.options = options
        self.metrics = StageMetrics(stage.name)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._stopping = threading.Event()
        self.inputs = options.inputs if options.inputs is not None else lane_inputs(stage.inputs, None)
        self._logical = {settings.topic(name): name for name in self.inputs}
        self._raw = {name for name in self.inputs if declared_topic(name).value_schema is None}
        self._hooks = Hooks(stage)
        self._paused: set[str] = set()
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._router = Router(stage, self._hooks, self._serde, settings.topic, self._raw, options.retry, self.inputs)
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._checkpoint: Checkpoint | None = None
        self._placement: Placement | None = None
        self.metrics_port: int | None = None

    @property
    def group_id(self) -> str:
        return self.options.group_id or f"{self.settings.topic_prefix}courrier-{self.stage.name}"

    def stop(self) -> None:
        """Ask the loop to finish its batch, commit and close."""
        self._stopping.set()

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Consume until ``stop()``, SIGTERM/SIGINT, or ``until()`` turns true."""
        require_broker(self.settings)
        require_topics(self.settings, list(self._logical))
        self._serde.prepare([name for name in self.inputs if name not in self._raw])
        self._install_signal_handlers()
        server = MetricsServer(self.metrics, self.options.metrics_port if self.options.metrics_port is not None else self.settings.metrics_port,
                               self.settings.metrics_host).start()
        self.metrics_port = server.port
        self._open_clients()
        self._hooks.open()
        log.info("stage started", extra={"stage": self.stage.name, "lane": self.options.lane, "inputs": list(self._logical),
                                         "group": self.group_id, "metrics_port": server.port})
        try:
            while not self._stopping.is_set() and not (until and until()):
                self._run_once()
        finally:
            self._close()
            server.stop()
            log.info("stage stopped", extra={"stage": self.stage.name})

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop())

    def _open_clients(self) -> None:
        transactional_id = f"{self.group_id}-{self.settings.instance_id or uuid.uuid4()}" if self.options.exactly_once else None
        # A dead instance's open transaction blocks read-committed readers until it times out: keep that short.
        extra: dict[str, Any] = {"transaction.timeout.ms": 15000} if transactional_id else {}
        # Delivery reports for failed records only, to the checkpoint: a Python call per record written would cost
        # more than the write; the flush or the transaction's commit says whether the batch went out.
        deliveries = DeliveryErrors()
        self._producer = Producer(producer_config(self.settings, transactional_id, **extra, **deliveries.producer_config()))
        self._consumer = Consumer(consumer_config(
            self.settings, self.group_id,
            **{"statistics.interval.ms": 5000, "stats_cb": self.metrics.observe_stats},
            **({"partition.assignment.strategy": "range"} if self.options.co_assigned_inputs else {}),
        ))
        self._placement = Placement(self.settings, self._producer)
        self._checkpoint = Checkpoint(self._consumer, self._producer, self.options.exactly_once, deliveries)
        # Read here, not in the assignment callback: a consumer call made inside its own callback breaks the client's
        # per-thread call state (a C assertion ends the process).
        self._input_counts = {topic: len(self._consumer.list_topics(topic, timeout=10).topics[topic].partitions)
                              for topic in {table.partner for table in self._state if table.partner}}
        self._consumer.subscribe(list(self._logical), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.metrics.assigned += len(partitions)
        # Restored here, inside consume(), so no record of a partition is processed before its rows are in; a table that
        # cannot restore in time raises, consume() raises it, and the stage exits naming the table and how far it got.
        for topic, numbers in _partitions_by_topic(partitions).items():
            for table in self._state:
                if table.partner == topic:
                    table.assign(numbers, self._input_counts[topic])

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Batches commit before the next consume() call, the only place callbacks run, so nothing done is left uncommitted;
        # a batch that failed was rewound and will be read again by whoever owns the partition next.
        self.metrics.assigned = max(0, self.metrics.assigned - len(partitions))
        revoked = [(tp.topic, tp.partition) for tp in partitions]
        if self._checkpoint is not None:
            self._checkpoint.forget(revoked)
        self._hooks.partitions_revoked(revoked)
        for topic, numbers in _partitions_by_topic(partitions).items():
            for table in self._state:
                if table.partner == topic:
                    table.revoke(sorted(numbers))

    def _run_once(self) -> None:
        assert self._consumer and self._checkpoint
        self.metrics.last_loop = time.monotonic()
        messages = next_batch(self._consumer.consume, self.options.batch_size, self.options.batch_timeout_s, self.options.eager)
        side_outputs = list(self._hooks.poll_outputs())
        if messages or side_outputs or self._checkpoint.moved(self._commit_points()):
            self._run_batch(messages, side_outputs)
        self._apply_backpressure()

    def _run_batch(self, messages: Sequence[Message], side_outputs: list[Output]) -> None:
        """Process one batch and make it durable, or drop it whole (read again, side outputs offered again)."""
        assert self._checkpoint
        started = time.perf_counter()
        self._checkpoint.begin()
        try:
            usable = [m for m in messages if self._usable(m)]
            self._checkpoint.track(usable)
            tally = self._router.route(usable, side_outputs, self._clock(), self._send)
            self.metrics.observe_batch(tally)  # before the commit, so a record read back downstream is already counted
            self._checkpoint.commit(self._commit_points())
        except (DeliveryFailed, KafkaException) as exc:
            if _fatal(exc):  # fenced by a newer instance with our transactional id, or a broken producer: stop, be restarted
                log.error("producer failed for good, the stage stops", extra={"stage": self.stage.name, "error": repr(exc)})
                raise
            log.error("batch not committed, it will be processed again", extra={"stage": self.stage.name, "error": repr(exc)})
            self._checkpoint.abort()
            self._tell("batch_aborted", self._hooks.batch_aborted)
            time.sleep(0.5)
            return
        if side_outputs:
            self._tell("outputs_delivered", self._hooks.outputs_delivered)
        self.metrics.batch_done(time.perf_counter() - started)

    def _commit_points(self) -> dict[tuple[str, int], int]:
        return dict(self._hooks.commit_points()) if self._hooks.commit_points else {}

    def _apply_backpressure(self) -> None:
        """Pause the inputs the stage asks to pause (again each loop, for partitions assigned since); resume the others."""
        if self._hooks.paused_inputs is None:
            return
        assert self._consumer
        wanted = self._hooks.paused_inputs()
        for logical in wanted | self._paused:
            physical = self.settings.topic(logical)
            partitions = [tp for tp in self._consumer.assignment() if tp.topic == physical]
            if logical in wanted:
                self._consumer.pause(partitions)
            elif partitions:
                self._consumer.resume(partitions)
        self._paused = set(wanted)

    @property
    def paused(self) -> set[str]:
        """The logical inputs paused for backpressure now."""
        return set(self._paused)

    def _usable(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return True
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error", extra={"stage": self.stage.name, "error": str(error)})
        return False

    def _tell(self, what: str, hook: Callable[[], None]) -> None:
        """Tell the stage how its batch ended. The batch is settled whatever the stage does with the news, so a failure
        here is logged and the loop goes on (the stage's source delivers again what it was not told of)."""
        try:
            hook()
        except Exception:
            log.exception("the stage failed to take note of its batch's end", extra={"stage": self.stage.name, "hook": what})

    def _send(self, topic_name: str, key: Any, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        # No callback per record and no poll per record: the producer reports failed deliveries only, to the
        # checkpoint, and the batch's flush or transaction commit serves those reports and says whether all went out.
        assert self._producer and self._placement
        while True:
            try:
                self._producer.produce(topic_name, value, key, self._placement.partition(topic_name, key), headers=headers)
                return
            except BufferError:  # the local queue is full: let librdkafka send and report until there is room
                self._producer.poll(0.05)

    def _close(self) -> None:
        self._hooks.close()
        if self._consumer is not None:
            self._consumer.close()
        if self._producer is not None:
            self._producer.flush(10)


def next_batch(consume: Callable[[int, float], list[Message]], size: int, wait_s: float, eager: bool) -> list[Message]:
    """Up to ``size`` records from ``consume`` (``Consumer.consume``): librdkafka's returns when the batch is full or
    ``wait_s`` has passed. ``eager``: what is fetched already, else the first record to come within ``wait_s`` with
    whatever came along with it, so a lone record is not held for the rest of the wait."""
    if not eager:
        return consume(size, wait_s)
    ready = consume(size, 0)
    if ready:
        return ready
    first = consume(1, wait_s)
    return first + consume(size - 1, 0) if first and size > 1 else first


def _partitions_by_topic(partitions: list[TopicPartition]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for tp in partitions:
        found.setdefault(tp.topic, []).append(tp.partition)
    return found


def _fatal(exc: BaseException) -> bool:
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return isinstance(error, KafkaError) and error.fatal()
