"""The one loop every stage runs on: consume a batch → decode → process → encode → produce → commit.

Failures are data: a record that cannot be decoded, or makes the stage raise, goes to
``dead-letter`` with its original bytes and the stage goes on; a ``TransientError`` sends it to
``retry`` (the scheduler brings it back when due). An output with a ``deliver_at`` goes to
``scheduled`` (deadlines: ``timers``) the same way, to reach its topic at that time. SIGTERM finishes the batch, commits, closes.

Side outputs (``poll_outputs``) go out with the batch that polled them; once that batch is durable the
stage hears it (``outputs_delivered``), so it can acknowledge its own source only then; when it is aborted the stage
hears that too (``batch_aborted``) and offers the same outputs again. The optional hooks are listed in
``runtime.stage.Hooks``; the commit story is ``runtime.checkpoint``'s docstring.

Exactly-once is the default: a batch's outputs, its dead-letter and retry records and its input offsets are one
Kafka transaction, so a stage killed at any moment leaves either all of a batch or none of it to ``read_committed``
readers, and its successor reads the same inputs again.
"""
from __future__ import annotations

import json
import logging
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from courrier.config import Settings
from processors.runtime import policy
from processors.runtime.checkpoint import Checkpoint, DeliveryFailed
from processors.runtime.clients import consumer_config, producer_config, require_broker
from processors.runtime.errors import DecodeError, TransientError
from processors.runtime.metrics import MetricsServer, StageMetrics
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, Hooks, Output, RecordMeta, Stage
from topology.topics import delay_topic, topic as declared_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerOptions:
    """How a stage runs: batch shape, delivery guarantee, retries and where metrics are served."""

    batch_size: int = 500
    batch_timeout_s: float = 0.2
    exactly_once: bool = True
    retry: policy.RetryPolicy = policy.RetryPolicy()
    metrics_port: int | None = None
    group_id: str | None = None


class Runner:
    """Runs one stage until stopped; owns the consumer, the producer, commits, dead-letters, retries and metrics."""

    def __init__(self, stage: Stage, settings: Settings, options: RunnerOptions = RunnerOptions(), clock: Callable[[], datetime] | None = None) -> None:
        self.stage = stage
        self.settings = settings
        self.options = options
        self.metrics = StageMetrics(stage.name)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._stopping = threading.Event()
        self._logical = {settings.topic(name): name for name in stage.inputs}
        self._raw = {name for name in stage.inputs if declared_topic(name).value_schema is None}
        self._hooks = Hooks(stage)
        self._paused: set[str] = set()
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._checkpoint: Checkpoint | None = None
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
        self._serde.prepare([name for name in self.stage.inputs if name not in self._raw])
        self._install_signal_handlers()
        server = MetricsServer(self.metrics, self.options.metrics_port if self.options.metrics_port is not None else self.settings.metrics_port).start()
        self.metrics_port = server.port
        self._open_clients()
        self._hooks.open()
        log.info("stage started", extra={"stage": self.stage.name, "inputs": list(self._logical), "group": self.group_id, "metrics_port": server.port})
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
        extra = {"transaction.timeout.ms": 15000} if transactional_id else {}
        self._producer = Producer(producer_config(self.settings, transactional_id, **extra))
        self._consumer = Consumer(consumer_config(
            self.settings, self.group_id,
            **{"statistics.interval.ms": 5000, "stats_cb": self.metrics.observe_stats},
        ))
        self._checkpoint = Checkpoint(self._consumer, self._producer, self.options.exactly_once)
        self._consumer.subscribe(list(self._logical), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.metrics.assigned += len(partitions)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Batches commit before the next consume() call, the only place callbacks run, so nothing done is left uncommitted;
        # a batch that failed was rewound and will be read again by whoever owns the partition next.
        self.metrics.assigned = max(0, self.metrics.assigned - len(partitions))
        revoked = [(tp.topic, tp.partition) for tp in partitions]
        if self._checkpoint is not None:
            self._checkpoint.forget(revoked)
        self._hooks.partitions_revoked(revoked)

    def _run_once(self) -> None:
        assert self._consumer and self._checkpoint
        self.metrics.last_loop = time.monotonic()
        messages = self._consumer.consume(self.options.batch_size, self.options.batch_timeout_s)
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
            self._handle_batch([m for m in messages if self._usable(m)])
            self._produce_outputs(side_outputs)
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
        self.metrics.batch.labels(self.stage.name).observe(time.perf_counter() - started)

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

    def _handle_batch(self, messages: Sequence[Message]) -> None:
        """Decode every record, let the stage process the good ones, and route each result."""
        now = self._clock()
        decoded: list[tuple[Message, Event, RecordMeta]] = []
        for message in messages:
            assert self._checkpoint
            self._checkpoint.track(message)
            logical = self._logical[message.topic()]
            self.metrics.count_consumed(logical)
            try:
                event = self._decode(logical, message)
            except DecodeError as exc:
                self._dead_letter(message, exc, now)
                continue
            except TransientError as exc:
                self._retry(message, exc, now)
                continue
            decoded.append((message, event, self._meta(message, logical, now)))
        for (message, event, meta), result in zip(decoded, self._process(decoded)):
            if isinstance(result, TransientError):
                self._retry(message, result, now, (event, meta))
            elif isinstance(result, BaseException):
                self._dead_letter(message, result, now, (event, meta))
            else:
                self._produce_for(message, result, now, (event, meta))

    def _decode(self, logical: str, message: Message) -> Event:
        """The input's value; a topic without a value schema (a delay topic) gives its bytes and headers as they are."""
        if logical in self._raw:
            return {"value": message.value(), "headers": message.headers() or []}
        return self._serde.decode(logical, message.value())

    def _process(self, decoded: Sequence[tuple[Message, Event, RecordMeta]]) -> list[list[Output] | BaseException]:
        """Call the stage: once per batch when it has ``process_batch`` (e.g. windowed provider submits), else per record."""
        batch_fn = self._hooks.process_batch
        started = time.perf_counter()
        if batch_fn is not None and decoded:
            try:
                results: list[list[Output] | BaseException] = list(batch_fn([(event, meta) for _m, event, meta in decoded]))
            except Exception as exc:  # the whole batch failed the same way: each record takes that outcome
                results = [exc] * len(decoded)
        else:
            results = [self._call(event, meta) for _m, event, meta in decoded]
        if decoded:
            per_record = (time.perf_counter() - started) / len(decoded)
            histogram = self.metrics.processing.labels(self.stage.name)
            for _ in decoded:
                histogram.observe(per_record)
        return results

    def _call(self, event: Event, meta: RecordMeta) -> list[Output] | BaseException:
        try:
            return list(self.stage.process(event, meta))
        except Exception as exc:  # a bad record must never stop the stage: it becomes a dead-letter (or retry) record
            return exc

    def _produce_for(self, message: Message, outputs: list[Output], now: datetime, decoded: tuple[Event, RecordMeta]) -> None:
        """Encode every output first, so a value that breaks its schema dead-letters the input instead of half its outputs."""
        try:
            encoded = self._encoded(outputs)
        except Exception as exc:  # fastavro raises ValueError/TypeError/AttributeError for values that do not fit
            self._dead_letter(message, exc, now, decoded)
            return
        headers = policy.carried_headers(message.headers())
        for output, value in encoded:
            self._emit(output, value, headers + list(output.headers))

    def _encoded(self, outputs: Iterable[Output]) -> list[tuple[Output, bytes | None]]:
        return [(o, o.value if o.value is None or isinstance(o.value, bytes) else self._serde.encode(o.topic, o.value)) for o in outputs]

    def _produce_outputs(self, outputs: Iterable[Output]) -> None:
        """Side outputs, one by one: one that breaks its schema goes to dead-letter (as JSON, with the reason) and the
        others go out; the stage is never stopped by it."""
        for output in outputs:
            try:
                (_o, value), = self._encoded([output])
            except Exception as exc:  # the value does not fit its topic's schema: keep it, readable, for an operator
                self._dead_letter_output(output, exc)
                continue
            self._emit(output, value, list(output.headers))

    def _dead_letter_output(self, output: Output, error: BaseException) -> None:
        now = self._clock()
        body = json.dumps(output.value, default=str).encode()
        key = output.key.encode() if isinstance(output.key, str) else output.key
        headers = policy.failure_headers(self.stage.name, error, self.settings.topic(output.topic), -1, -1, now)
        self._send(self.settings.topic("dead-letter"), key, body, headers)
        self.metrics.dead_lettered.labels(self.stage.name, output.topic, type(error).__name__).inc()
        log.warning("side output dead-lettered", extra={"stage": self.stage.name, "topic": output.topic,
                                                         "error_class": type(error).__name__, "error": str(error)[:500]})

    def _emit(self, output: Output, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Produce one encoded output to its topic, or, when it has a ``deliver_at``, to its delay topic (``scheduled``, or
        ``timers`` for deadlines: ``topology.topics.delay_topic``) for the scheduler to release then."""
        target = self.settings.topic(output.topic)
        if output.deliver_at is None:
            self._send(target, output.key, value, headers)
            self.metrics.count_produced(output.topic)
            return
        due_ms = int(output.deliver_at.timestamp() * 1000)
        delay = delay_topic(output.topic, output.value if isinstance(output.value, dict) else None)
        self._send(self.settings.topic(delay), output.key, value, headers + policy.retry_headers(target, due_ms, 0))
        self.metrics.count_produced(delay)

    def _dead_letter(self, message: Message, error: BaseException, now: datetime, decoded: tuple[Event, RecordMeta] | None = None) -> None:
        """The record, its bytes untouched, to ``dead-letter`` with why; and what the stage writes beside it (a decoded
        message's ``FAILED`` receipt), so no message is left without an outcome."""
        headers = policy.carried_headers(message.headers()) + policy.failure_headers(
            self.stage.name, error, message.topic(), message.partition(), message.offset(), now)
        self._send(self.settings.topic("dead-letter"), message.key(), message.value(), headers)
        self.metrics.dead_lettered.labels(self.stage.name, self._logical[message.topic()], type(error).__name__).inc()
        log.warning("record dead-lettered", extra={
            "stage": self.stage.name, "topic": message.topic(), "partition": message.partition(),
            "offset": message.offset(), "error_class": type(error).__name__, "error": str(error)[:500]})
        if decoded is not None:
            self._produce_outputs(self._beside_dead_letter(decoded, error))

    def _beside_dead_letter(self, decoded: tuple[Event, RecordMeta], error: BaseException) -> list[Output]:
        try:
            return list(self._hooks.dead_letter_outputs(decoded[0], error, decoded[1]))
        except Exception:  # the record is kept in dead-letter whatever happens here
            log.exception("the stage failed to say what goes beside a dead-letter record", extra={"stage": self.stage.name})
            return []

    def _retry(self, message: Message, error: TransientError, now: datetime, decoded: tuple[Event, RecordMeta] | None = None) -> None:
        attempt = policy.attempt_of(message.headers()) + 1
        if error.retry_until is not None and now < error.retry_until:  # however many attempts: the stage ends it then
            delay_s = min(self.options.retry.delay_s(attempt, error.delay_s), max(0.0, (error.retry_until - now).total_seconds()))
        elif attempt > self.options.retry.max_attempts:
            self._dead_letter(message, TransientError(f"gave up after {attempt - 1} retries: {error}"), now, decoded)
            return
        else:
            delay_s = self.options.retry.delay_s(attempt, error.delay_s)
        due_ms = int(now.timestamp() * 1000 + delay_s * 1000)
        headers = (policy.carried_headers(message.headers())
                   + policy.failure_headers(self.stage.name, error, message.topic(), message.partition(), message.offset(), now)
                   + policy.retry_headers(message.topic(), due_ms, attempt))
        self._send(self.settings.topic("retry"), message.key(), message.value(), headers)
        self.metrics.retried.labels(self.stage.name, self._logical[message.topic()]).inc()

    def _send(self, topic_name: str, key: Any, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        assert self._producer and self._checkpoint
        while True:
            try:
                self._producer.produce(topic_name, value=value, key=key, headers=headers, on_delivery=self._checkpoint.on_delivery)
                break
            except BufferError:  # the local queue is full: serve delivery callbacks until there is room
                self._producer.poll(0.05)
        self._producer.poll(0)

    def _meta(self, message: Message, logical: str, now: datetime) -> RecordMeta:
        raw_key = message.key()
        return RecordMeta(
            topic=logical, partition=message.partition(), offset=message.offset(),
            key=raw_key.decode("utf-8", "replace") if raw_key is not None else None, now=now,
            headers={k: v for k, v in (message.headers() or []) if v is not None},
        )

    def _close(self) -> None:
        self._hooks.close()
        if self._consumer is not None:
            self._consumer.close()
        if self._producer is not None:
            self._producer.flush(10)


def _fatal(exc: BaseException) -> bool:
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return isinstance(error, KafkaError) and error.fatal()
