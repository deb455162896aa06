"""Operators' view of the ``dead-letter`` topic: list what failed and why, show one record, requeue records to their
source topic once, and mark records handled.

``dead-letter`` is not compacted (nothing can be removed from it but by retention), so what was done with a record is
remembered beside it: a record in the compacted ``dead-letter-handled`` topic, keyed by the dead-letter record's
``partition:offset``, says it was requeued or purged. ``list`` hides handled records; ``requeue`` never sends a handled
record again, and writes each record and its marker in one transaction (both or neither). A record whose bytes do not
decode with its source topic's current schema is refused before anything is sent.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from common.config import Settings
from common.errors import CourrierError, DecodeError, UnreachableError
from common.kafka_clients import consumer_config, producer_config, require_broker
from common.logs import mask_text
from courrier.replay_copy import watermarks
from processors.runtime import policy
from processors.runtime.serde import AvroSerde
from topology.topics import BY_NAME

MARKERS = "dead-letter-handled"
REQUEUED, PURGED = "requeued", "purged"
TRANSACTION_SIZE = 200  # records (and their markers) per requeue transaction: what a crash can leave to do again


class DlqError(CourrierError):
    """A dead-letter operation refused (unknown record, records that no longer decode): nothing was sent or marked."""


@dataclass(frozen=True)
class DeadLetter:
    """One dead-letter record: where it came from, why it failed, and its original bytes."""

    offset: int
    partition: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str:
        return policy.header(self.headers, name) or ""

    @property
    def id(self) -> str:
        """Its name for operators and its marker's key: ``partition:offset`` in ``dead-letter``."""
        return f"{self.partition}:{self.offset}"

    @property
    def failed_at(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.header(policy.FAILED_AT))
        except ValueError:
            return None

    @property
    def reason(self) -> str:
        return f"{self.header(policy.ERROR_CLASS)}: {self.header(policy.ERROR_MESSAGE)}"

    @property
    def key_text(self) -> str:
        return (self.key or b"").decode("utf-8", "replace")

    @property
    def summary(self) -> dict[str, str]:
        return {
            "id": self.id, "failed_at": self.header(policy.FAILED_AT), "stage": self.header(policy.STAGE),
            "error": mask_text(self.reason),
            "source": f"{self.header(policy.SOURCE_TOPIC)}[{self.header(policy.SOURCE_PARTITION)}]@{self.header(policy.SOURCE_OFFSET)}",
            "key": mask_text(self.key_text), "bytes": str(len(self.value or b"")),
        }


@dataclass(frozen=True)
class Selection:
    """Which records an operation is about; every criterion given must hold. ``reason`` is a case-insensitive part of
    the error class or message; ``since``/``until`` bound the time it failed (until excluded)."""

    stage: str | None = None
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    key: str | None = None
    handled_too: bool = False

    @property
    def narrowed(self) -> bool:
        return any(v is not None for v in (self.stage, self.reason, self.since, self.until, self.key))

    def matches(self, record: DeadLetter, handled: dict[str, dict]) -> bool:
        failed_at = record.failed_at
        return ((self.handled_too or record.id not in handled)
                and (self.stage is None or record.header(policy.STAGE) == self.stage)
                and (self.reason is None or self.reason.lower() in record.reason.lower())
                and (self.since is None or (failed_at is not None and failed_at >= self.since))
                and (self.until is None or (failed_at is not None and failed_at < self.until))
                and (self.key is None or record.key_text == self.key))


def read(settings: Settings, selection: Selection = Selection()) -> tuple[list[DeadLetter], dict[str, dict]]:
    """The records ``selection`` names, in topic order, and every marker (id → what was done), both read to their end."""
    require_broker(settings)
    handled: dict[str, dict] = {}
    for message in read_to_end(settings, settings.topic(MARKERS)):
        key = (message.key() or b"").decode()
        if message.value() is None:
            handled.pop(key, None)
        else:
            handled[key] = json.loads(message.value())
    records = [DeadLetter(m.offset(), m.partition(), m.key(), m.value(), [(k, v or b"") for k, v in (m.headers() or [])])
               for m in read_to_end(settings, settings.topic("dead-letter"))]
    return [r for r in records if selection.matches(r, handled)], handled


def find(settings: Settings, record_id: str) -> tuple[DeadLetter, dict | None]:
    """One record by its id (``partition:offset``) and its marker, if handled; ``DlqError`` when there is none."""
    records, handled = read(settings, Selection(handled_too=True))
    for record in records:
        if record.id == record_id:
            return record, handled.get(record_id)
    raise DlqError(f"no dead-letter record {record_id!r} in {settings.topic('dead-letter')} (ids are PARTITION:OFFSET, see `courrier dlq list`)")


def source_of(settings: Settings, record: DeadLetter) -> str | None:
    """The logical topic a record came from, when the topology declares it."""
    physical = record.header(policy.SOURCE_TOPIC)
    logical = physical[len(settings.topic_prefix):] if physical.startswith(settings.topic_prefix) else None
    return logical if logical in BY_NAME else None


def decoded(settings: Settings, record: DeadLetter, serde: AvroSerde) -> dict:
    """The original value as its source topic's current schema reads it; ``DecodeError`` saying why it does not."""
    logical = source_of(settings, record)
    if logical is None:
        raise DecodeError(f"its source topic {record.header(policy.SOURCE_TOPIC)!r} is not declared in topology/topics.py")
    if BY_NAME[logical].value_schema is None:
        raise DecodeError(f"{logical} carries other topics' bytes (no schema of its own)")
    return serde.decode(logical, record.value)


def refusals(settings: Settings, records: list[DeadLetter], serde: AvroSerde) -> list[str]:
    """Why each record that cannot go back is refused: no source topic, or bytes its source's schema no longer reads."""
    found = []
    for record in records:
        logical = source_of(settings, record)
        if logical is None:
            found.append(f"{record.id}: source topic {record.header(policy.SOURCE_TOPIC)!r} is not a declared topic")
        elif BY_NAME[logical].value_schema is not None:
            try:
                serde.decode(logical, record.value)
            except DecodeError as exc:
                found.append(f"{record.id}: does not decode with {logical}'s current schema ({_short(str(exc))})")
    return found


def check(settings: Settings, records: list[DeadLetter]) -> None:
    """``DlqError`` naming the records that cannot go back (``refusals``), before anything is sent."""
    refused = refusals(settings, records, AvroSerde(settings.registry_url, settings.topic))
    if refused:
        more = f" (and {len(refused) - 3} more)" if len(refused) > 3 else ""
        raise DlqError(f"nothing requeued: {'; '.join(refused[:3])}{more}; purge those or narrow the selection")


def _short(text: str, limit: int = 120) -> str:
    """An error's first words: fastavro's resolution errors print both schemas whole."""
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def requeue(settings: Settings, records: list[DeadLetter], on_record: Callable[[], None] = lambda: None) -> int:
    """Each record's original bytes back on its source topic, with a ``requeued`` marker in the same transaction;
    ``DlqError`` (nothing sent) when any record is refused (``check``). Returns how many went back."""
    check(settings, records)
    producer = Producer(producer_config(settings, f"{settings.topic_prefix}courrier-dlq-requeue"))
    done = 0
    try:
        producer.init_transactions(30)
        for start in range(0, len(records), TRANSACTION_SIZE):
            batch = records[start:start + TRANSACTION_SIZE]
            producer.begin_transaction()
            for record in batch:
                producer.produce(record.header(policy.SOURCE_TOPIC), key=record.key, value=record.value,
                                 headers=policy.carried_headers(record.headers))
                _mark(producer, settings, record, REQUEUED, record.header(policy.SOURCE_TOPIC))
                producer.poll(0)
                on_record()
            producer.commit_transaction(60)
            done += len(batch)
    except KafkaException as exc:  # fenced by another requeue, broker gone: the open transaction is dropped
        raise DlqError(f"requeue stopped after {done} records ({exc.args[0]}); run it again: what went back is remembered") from None
    return done


def purge(settings: Settings, records: list[DeadLetter]) -> int:
    """Mark records handled (``purged``): ``list`` hides them and ``requeue`` never sends them. The records stay in
    ``dead-letter`` until its retention deletes them: the topic is not compacted."""
    producer = Producer(producer_config(settings))
    for record in records:
        _mark(producer, settings, record, PURGED, None)
    if producer.flush(30):
        raise UnreachableError(f"{settings.bootstrap_servers} did not confirm the purge markers within 30 s; run the purge again")
    return len(records)


def _mark(producer: Producer, settings: Settings, record: DeadLetter, action: str, to: str | None) -> None:
    marker = {"action": action, "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "to": to}
    producer.produce(settings.topic(MARKERS), key=record.id.encode(), value=json.dumps(marker).encode())


def read_to_end(settings: Settings, physical: str, timeout_s: float = 60.0) -> Iterator:
    """Every committed record of a topic, from its beginning to the end it had when reading started."""
    consumer = Consumer(consumer_config(settings, f"courrier-dlq-{uuid.uuid4()}"))
    try:
        metadata = consumer.list_topics(physical, timeout=10).topics.get(physical)
        if metadata is None or metadata.error is not None:
            raise DlqError(f"topic {physical} does not exist on {settings.bootstrap_servers}; run `courrier topology apply`")
        ends = {p: watermarks(consumer, physical, p) for p in metadata.partitions}
        pending = {p for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(physical, p, ends[p][0]) for p in pending])
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise UnreachableError(f"{physical} was not read to its end within {timeout_s:.0f}s from {settings.bootstrap_servers}")
            for message in consumer.consume(500, 0.2):
                if message.error() is None:
                    yield message
                elif message.error().fatal():
                    raise KafkaException(message.error())
            # Positions, not the last offset read: transaction markers take offsets no record has.
            done = consumer.position([TopicPartition(physical, p) for p in pending])
            pending -= {tp.partition for tp in done if tp.offset >= ends[tp.partition][1]}
    finally:
        consumer.close()
