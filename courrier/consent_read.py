"""Reading consent changes back: every ``ConsentChange`` of a number (or of a group), each once, oldest first.

The compacted ``consent`` topic keeps only the latest change per ``E164|group``, so the history is read
from ``consent-history`` (every change, kept forever), merged with what ``consent`` still holds (changes
written by producers that do not write the history). A change seen twice (a replay, or in both topics)
is shown once. Reads are bounded: each partition up to the end it had when reading started.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from common.config import Settings
from common.errors import UnreachableError
from common.kafka_clients import consumer_config, require_broker
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event

SOURCES = ("consent-history", "consent")
# What a change is, for telling two copies of one change from two changes (evidence fields included).
FIELDS = ("changed_at", "subscription_group", "status", "basis", "source", "evidence", "text_shown", "ip_address",
          "inbound_message_id", "recorded_by", "needs_review")
# Columns of an export and of the JSON rows, in order.
COLUMNS = ("e164", "subscription_group", "status", "changed_at", "source", "basis", "text_shown", "ip_address",
           "inbound_message_id", "evidence", "recorded_by", "needs_review")


def history(changes: Iterable[Event], e164: str | None = None, group: str | None = None) -> list[Event]:
    """The changes of ``e164`` (every number when None; of ``group`` only, when given), each once, oldest first; order
    of arrival breaks ties."""
    seen: dict[tuple[object, ...], Event] = {}
    for change in changes:
        if (e164 is not None and change["e164"] != e164) or (group is not None and change["subscription_group"] != group):
            continue
        seen.setdefault((change["e164"], *(change.get(name) for name in FIELDS)), change)
    return sorted(seen.values(), key=lambda change: change["changed_at"])


def read_changes(settings: Settings, e164: str | None, timeout_s: float = 30.0) -> list[Event]:
    """Every change keyed for ``e164`` (every change when None) in ``consent-history`` then ``consent``, read from the
    beginning to the end they had when reading started; ``UnreachableError`` when that end is not reached within
    ``timeout_s``."""
    require_broker(settings)
    serde = AvroSerde(settings.registry_url, settings.topic)
    keys: dict[str, Callable[[str], bool]] = {
        "consent-history": lambda key: e164 is None or key == e164,
        "consent": lambda key: e164 is None or key.startswith(f"{e164}|"),
    }
    changes: list[Event] = []
    for logical in SOURCES:
        for key, value in read_to_end(settings, settings.topic(logical), timeout_s):
            if value is not None and key is not None and keys[logical](key.decode("utf-8", "replace")):
                changes.append(serde.decode(logical, value))
    return changes


def read_to_end(settings: Settings, physical: str, timeout_s: float,
                only: Callable[[int], int | None] | None = None) -> Iterator[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of ``physical`` from its beginning to the end offsets it had when reading started (tombstones
    as a None value); nothing for a topic that does not exist; ``UnreachableError`` past ``timeout_s``. ``only``, given
    the topic's partition count, names the one partition to read (None: all of them)."""
    consumer = Consumer(consumer_config(settings, f"courrier-consent-read-{uuid.uuid4()}"))
    try:
        metadata = consumer.list_topics(physical, timeout=10).topics.get(physical)
        if metadata is None or metadata.error:
            return
        deadline = time.monotonic() + timeout_s
        chosen = only(len(metadata.partitions)) if only is not None else None
        ends = {p: _end_offset(consumer, TopicPartition(physical, p), deadline) for p in metadata.partitions
                if chosen is None or p == chosen}
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(physical, p, OFFSET_BEGINNING) for p in pending])
        while pending:
            if time.monotonic() > deadline:
                raise UnreachableError(f"{physical} was not read to its end within {timeout_s:.0f}s from {settings.bootstrap_servers}")
            for message in consumer.consume(500, 0.2):
                if message.error() is None:
                    yield message.key(), message.value()
            # Positions, not the last offset read: transaction markers take offsets no message has.
            done = consumer.position([TopicPartition(physical, p) for p in pending])
            pending -= {tp.partition for tp in done if tp.offset >= ends[tp.partition]}
    finally:
        consumer.close()


def _end_offset(consumer: Consumer, partition: TopicPartition, deadline: float) -> int:
    """The high watermark of ``partition``, asked again until ``deadline`` (a topic just created has no leader yet)."""
    while True:
        try:
            return consumer.get_watermark_offsets(partition, timeout=10)[1]
        except KafkaException as exc:
            if time.monotonic() > deadline:
                raise UnreachableError(f"{partition.topic}[{partition.partition}]: no end offset ({exc})") from exc
            time.sleep(0.2)


def as_json(change: Event) -> dict[str, object]:
    """A change as a JSON object with every column; ``changed_at`` in ISO 8601 and the evidence parsed when it is JSON."""
    row: dict[str, object] = {name: change.get(name) for name in COLUMNS}
    row["changed_at"] = change["changed_at"].isoformat()
    row["needs_review"] = bool(change.get("needs_review"))
    evidence = change.get("evidence")
    if evidence:
        try:
            row["evidence"] = json.loads(evidence)
        except ValueError:
            pass  # free text (a form id, a file name) stays a string
    return row


def cell(value: object) -> str:
    """A value as one table or CSV cell: times in ISO 8601, nothing as an empty cell."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)
