"""``courrier replay``, the broker side: resolve a range to offsets, then copy it into the stage's input topic.

Everything that can be wrong with the input is found by ``plan`` before the first record is written (unknown topic,
stage or partition, bounds retention has already deleted, an empty range, an unreachable broker or registry), so a
bad replay sends nothing. ``copy`` reads each partition's span in order and writes each record (its key, its bytes, its
headers, stamped) to the target; Ctrl-C stops it after the records read so far are delivered and says where each
partition goes on (``Interrupted``).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Callable, Iterator

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from common.config import Settings
from common.errors import DecodeError
from common.kafka_clients import consumer_config, producer_config, require_broker
import schemas
from courrier.replay import (
    Bound, Filter, Interrupted, ReplayError, Request, Span, Summary, check_filters, parse_bound, parse_filter, resumed,
    target_topic,
)
from processors.catalog import STAGE_NAMES
from processors.rules.replay import stamped
from processors.runtime import policy
from processors.runtime.serde import AvroSerde
from topology.topics import topic as declared_topic

class _Stalled(Exception):
    """The range stopped coming before its end."""


STALL_S = 30.0  # no record and no progress for this long: the range cannot be read (an open transaction, a broker gone)


@dataclass(frozen=True)
class Plan:
    """A replay ready to run: the source and target (logical), each partition's offsets, the filters, and the force stamp."""

    replay_id: str
    source: str
    target: str
    spans: list[Span]
    filters: list[Filter]
    started: datetime
    forced_at: datetime | None

    @property
    def size(self) -> int:
        return sum(span.size for span in self.spans)


def plan(settings: Settings, request: Request, now: datetime, resume: dict[int, int] | None = None) -> Plan:
    """The offsets a request covers on the broker; ``ReplayError`` (nothing sent) for any input that does not hold."""
    target = target_topic(request.topic, request.into, STAGE_NAMES)
    source = declared_topic(request.topic)
    filters = [parse_filter(text) for text in request.filters]
    if filters:
        assert source.value_schema is not None, "target_topic refuses schemaless topics"
        check_filters(source, filters, {f["name"] for f in schemas.parsed_schema(source.value_schema)["fields"]})
    start, end = parse_bound(request.start, "--from", now), parse_bound(request.end, "--to", now)
    if (start.offset is not None or end.offset is not None) and request.partition is None:
        raise ReplayError("an offset names a position in one partition: give --partition with an offset bound")
    require_broker(settings)
    consumer = Consumer(consumer_config(settings, f"courrier-replay-plan-{uuid.uuid4()}"))
    try:
        spans = _spans(consumer, settings, source.name, request.partition, start, end)
    finally:
        consumer.close()
    spans = resumed(spans, resume or {})
    if not sum(span.size for span in spans):
        raise ReplayError(f"nothing to replay: {request.topic} has no record from {start} to {end}"
                          + (f" in partition {request.partition}" if request.partition is not None else ""))
    replay_id = f"replay-{now.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    return Plan(replay_id, source.name, target, spans, filters, now, now if request.force else None)


def _spans(consumer: Consumer, settings: Settings, logical: str, only: int | None, start: Bound, end: Bound) -> list[Span]:
    physical = settings.topic(logical)
    metadata = consumer.list_topics(physical, timeout=10).topics.get(physical)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise ReplayError(f"topic {physical} does not exist on {settings.bootstrap_servers}; run `courrier topology apply`")
    partitions = sorted(metadata.partitions)
    if only is not None and only not in partitions:
        raise ReplayError(f"{physical} has no partition {only} (it has {len(partitions)}: 0 to {len(partitions) - 1})")
    spans = []
    for partition in [only] if only is not None else partitions:
        low, high = watermarks(consumer, physical, partition)
        first = _position(consumer, physical, partition, start, high)
        if start.offset is not None and first < low:
            raise ReplayError(f"offset {first} of {physical}[{partition}] is gone (retention kept offsets from {low} on); "
                              f"replay from {low} or later")
        if start.time is not None and low > 0 and first <= low < high:
            days = declared_topic(logical).retention_ms / 86_400_000
            raise ReplayError(f"--from {start} is before what {physical}[{partition}] still keeps (retention {days:g} days "
                              f"deleted its first {low} records): records of that time may be gone; choose a later --from")
        last = min(_position(consumer, physical, partition, end, high), high)
        if first > last:
            raise ReplayError(f"--from {start} is after --to {end}")
        spans.append(Span(partition, first, last))
    return spans


def watermarks(consumer: Consumer, physical: str, partition: int, timeout_s: float = 30.0) -> tuple[int, int]:
    """A partition's low and high watermarks; NOT_LEADER (a topic created a moment ago) is retried until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return consumer.get_watermark_offsets(TopicPartition(physical, partition), timeout=10)
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _position(consumer: Consumer, physical: str, partition: int, bound: Bound, high: int) -> int:
    """The offset a bound stands for: itself, or the first record at or after its time (the end when there is none)."""
    if bound.offset is not None:
        return bound.offset
    assert bound.time is not None
    [found] = consumer.offsets_for_times([TopicPartition(physical, partition, int(bound.time.timestamp() * 1000))], timeout=10)
    return high if found.offset < 0 else found.offset


def copy(settings: Settings, chosen: Plan, dry_run: bool = False, on_record: Callable[[], None] = lambda: None) -> Summary:
    """Write the plan's records to its target (dry: count them only); the summary of what went (or would go) where.

    ``Interrupted`` (where each partition goes on) on Ctrl-C, once what was read is delivered, or when the broker refuses
    records or the range stops coming."""
    summary = Summary(chosen.replay_id, chosen.target)
    serde = AvroSerde(settings.registry_url, settings.topic) if (dry_run or chosen.filters) else None
    if serde is not None:
        serde.prepare([chosen.source])  # an unreachable registry stops the replay now, before anything is sent
    producer = None if dry_run else Producer(producer_config(settings))
    failed: dict[int, int] = {}  # partition → its first source offset the broker refused

    def delivered(partition: int, offset: int, error, _message) -> None:
        if error is not None:
            failed[partition] = min(offset, failed.get(partition, offset))

    physical, target = settings.topic(chosen.source), settings.topic(chosen.target)
    ends = {span.partition: span.end for span in chosen.spans if span.size}
    nexts = {span.partition: span.start for span in chosen.spans}
    consumer = Consumer(consumer_config(settings, f"courrier-replay-{uuid.uuid4()}"))
    try:
        consumer.assign([TopicPartition(physical, p, nexts[p]) for p in ends])
        for message in _records(consumer, physical, ends):
            partition, offset = message.partition(), message.offset()
            value = None
            if serde is not None:
                try:
                    value = serde.decode(chosen.source, message.value())
                except DecodeError:
                    summary.undecodable += 1
            if all(wanted.matches(value) if value is not None else False for wanted in chosen.filters):
                summary.count(value)
                if producer is not None:
                    producer.produce(target, key=message.key(), value=message.value(),
                                     headers=stamped(policy.carried_headers(message.headers()), chosen.replay_id, chosen.forced_at),
                                     on_delivery=partial(delivered, partition, offset))
                    producer.poll(0)
            else:
                summary.skipped += 1
            nexts[partition] = offset + 1
            on_record()
    except (KeyboardInterrupt, _Stalled) as exc:
        why = str(exc) if isinstance(exc, _Stalled) else "interrupted"
        _flush(producer)
        raise Interrupted(why, summary.total, {p: min(o, failed.get(p, o)) for p, o in nexts.items()}) from None
    finally:
        consumer.close()
    _flush(producer)
    if failed:
        raise Interrupted(f"the broker refused records of partitions {sorted(failed)}", summary.total,
                          {p: min(o, failed.get(p, o)) for p, o in nexts.items()})
    return summary


def _records(consumer: Consumer, physical: str, ends: dict[int, int]) -> Iterator:
    """The records of each partition up to its end (excluded); positions tell when one is done (transaction markers
    take offsets no record has)."""
    pending = set(ends)
    last_progress = time.monotonic()
    while pending:
        for message in consumer.consume(500, 0.5):
            if message.error() is not None:
                if message.error().fatal():
                    raise KafkaException(message.error())
                continue
            if message.partition() in pending and message.offset() < ends[message.partition()]:
                last_progress = time.monotonic()
                yield message
        done = {tp.partition for tp in consumer.position([TopicPartition(physical, p) for p in pending]) if tp.offset >= ends[tp.partition]}
        if done:
            last_progress = time.monotonic()
        pending -= done
        if pending and time.monotonic() - last_progress > STALL_S:
            raise _Stalled(f"{physical} partitions {sorted(pending)} gave nothing for {STALL_S:.0f}s before their end "
                           "(an open transaction, or the broker went away)")


def _flush(producer: Producer | None) -> None:
    if producer is not None and producer.flush(60):
        raise ReplayError("some replayed records were not confirmed by the broker within 60 s; run the replay again with --resume")
