"""An in-process harness: a stage fed events and run through the runner's own routing, with no broker and no registry.

Like Bytewax's testing source and sink: ``feed`` queues input records, ``run`` takes everything fed so far as one batch
through ``routing.Router`` (the loop the ``Runner`` runs: decode, process, encode, dead-letter, retry, delay topics,
side outputs) and collects what it produced per topic. Values are Avro-encoded with the real schemas, kept in an
in-memory registry, so a value that breaks its schema dead-letters as it would on Kafka. Topic names are logical
(no prefix). ``release`` puts a delay-topic record back on its target as the scheduler does, so a retry can be
followed to its next attempt. A batch is committed unless ``run(commit=False)``: then the stage hears ``batch_aborted``
instead of ``outputs_delivered``.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from confluent_kafka.schema_registry import Schema

from processors.runtime import policy
from processors.runtime.routing import Router
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, Hooks, Stage
from topology.topics import lane_inputs, topic as declared_topic


@dataclass(frozen=True)
class Fed:
    """An input record as the runner reads it from Kafka (``routing.Record``)."""

    topic_name: str
    partition_number: int
    offset_number: int
    key_bytes: bytes | None
    value_bytes: bytes | None
    header_list: list[tuple[str, bytes | None]]

    def topic(self) -> str:
        return self.topic_name

    def partition(self) -> int:
        return self.partition_number

    def offset(self) -> int:
        return self.offset_number

    def key(self) -> bytes | None:
        return self.key_bytes

    def value(self) -> bytes | None:
        return self.value_bytes

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self.header_list or None


@dataclass(frozen=True)
class Produced:
    """One record the stage's batch wrote: its topic (logical), key, bytes and headers; ``event`` decodes the value."""

    topic: str
    key: str | bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    _decode: Callable[[str, bytes | None], Event] = field(repr=False, compare=False)  # the harness's serde

    def header(self, name: str) -> str | None:
        """The last value of a header as text, or None."""
        return policy.header(self.headers, name)

    @property
    def event(self) -> Event:
        """The value decoded with its topic's schema; for a delay topic, its target's; for ``dead-letter``, its source's
        (a side output that broke its schema is kept there as JSON)."""
        if self.topic == "dead-letter" and self.header(policy.SOURCE_OFFSET) == "-1" and self.value is not None:
            return json.loads(self.value)
        schema_topic = self.topic
        if declared_topic(self.topic).value_schema is None:
            schema_topic = self.header(policy.TARGET_TOPIC) or self.header(policy.SOURCE_TOPIC) or self.topic
        return self._decode(schema_topic, self.value)


class _LocalRegistry:
    """What ``AvroSerde`` asks of a schema registry, in memory: an id per schema text."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._texts: dict[int, str] = {}

    def register_schema(self, _subject: str, schema: Schema) -> int:
        text = schema.schema_str
        if text not in self._ids:
            self._ids[text] = len(self._ids) + 1
            self._texts[self._ids[text]] = text
        return self._ids[text]

    def get_schema(self, schema_id: int) -> Schema:
        return Schema(self._texts[schema_id], "AVRO")


class StageHarness:
    """Runs one stage in process: ``feed`` records, ``run`` a batch, read ``outputs`` (every batch's, per topic)."""

    def __init__(self, stage: Stage, retry: policy.RetryPolicy = policy.RetryPolicy(jitter=0.0),
                 clock: Callable[[], datetime] | None = None, inputs: tuple[str, ...] | None = None) -> None:
        """``inputs``: the topics read, as the runner's option (a lane's, ``topology.topics.lane_inputs``); by default
        every lane's topics of the stage's ``inputs``."""
        self.stage = stage
        self.hooks = Hooks(stage)
        self.serde = AvroSerde("in-memory", lambda name: name, registry=_LocalRegistry())  # type: ignore[arg-type]
        read = inputs if inputs is not None else lane_inputs(stage.inputs, None)
        raw = {name for name in read if declared_topic(name).value_schema is None}
        self._router = Router(stage, self.hooks, self.serde, lambda name: name, raw, retry, read)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._fed: list[Fed] = []
        self._offsets: dict[str, int] = {}
        self.outputs: dict[str, list[Produced]] = {}
        self.hooks.open()

    def feed(self, topic: str, value: Event | bytes | None, key: str | bytes | None = None,
             headers: list[tuple[str, bytes | None]] | None = None, partition: int = 0) -> None:
        """Queue one record on input ``topic``: an event is encoded with the topic's schema, bytes go as they are."""
        data = value if value is None or isinstance(value, bytes) else self.serde.encode(topic, value)
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        raw_key = key.encode() if isinstance(key, str) else key
        self._fed.append(Fed(topic, partition, offset, raw_key, data, list(headers or [])))

    def release(self, delayed: Produced) -> None:
        """Feed a record written to a delay topic (``retry``, ``scheduled``, ``timers``…) back to its target topic, with
        the headers the scheduler gives it, whatever its due time."""
        target = delayed.header(policy.TARGET_TOPIC)
        if target is None:
            raise ValueError(f"a record on {delayed.topic} without {policy.TARGET_TOPIC} is not a delayed record")
        attempt = str(policy.attempt_of(delayed.headers)).encode()
        headers: list[tuple[str, bytes | None]] = [*policy.carried_headers(delayed.headers), (policy.ATTEMPT, attempt)]
        self.feed(target, delayed.value, delayed.key, headers)

    def run(self, commit: bool = True, now: datetime | None = None) -> dict[str, list[Produced]]:
        """One batch: every record fed since the last run, then the stage's ``poll_outputs``; what it produced, per topic.

        ``commit=False`` drops the batch as a failed commit would: nothing is kept, the stage hears ``batch_aborted``."""
        records, self._fed = self._fed, []
        side_outputs = list(self.hooks.poll_outputs())
        produced: dict[str, list[Produced]] = {}

        def send(topic: str, key: Any, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
            produced.setdefault(topic, []).append(Produced(topic, key, value, headers, self.serde.decode))

        self._router.route(records, side_outputs, now or self._clock(), send)
        if not commit:
            self.hooks.batch_aborted()
            return {}
        if side_outputs:
            self.hooks.outputs_delivered()
        for topic, records_out in produced.items():
            self.outputs.setdefault(topic, []).extend(records_out)
        return produced

    def close(self) -> None:
        self.hooks.close()


def wait_for_row(table: Mapping[str, Any], key: str, timeout_s: float = 10.0) -> Any:
    """The row for ``key`` once ``table`` (a ``TopicTable`` following its topic) shows it, or None after ``timeout_s``:
    for tests that just wrote it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = table.get(key)
        if row is not None:
            return row
        time.sleep(0.05)
    return None
