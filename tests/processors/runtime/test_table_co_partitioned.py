"""Through the broker: rows of a ``by_number`` topic land on their number's partition (as the requests about that
number do), and a co-partitioned table holds only the partitions it is assigned — restored on assignment, closed on
revocation, resumed from its own store when taken back."""
from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from common.config import Settings
from common.errors import NotHeld
from common.kafka_clients import consumer_config, producer_config
from courrier.client import CourrierClient
from processors.runtime.table import TopicTable
from topology.errors import TopologyError
from topology.partitioning import key_partition, row_partition

NUMBERS = [f"+3361234{i:04d}" for i in range(120)]


@pytest.fixture
def settings(topic_settings: Settings, tmp_path: Path) -> Settings:
    return topic_settings.model_copy(update={"state_dir": tmp_path})


@pytest.fixture
def opted_in(settings: Settings) -> Settings:
    """Every number of NUMBERS opted in to ``promo`` through the client (as imports and the API record consent)."""
    client = CourrierClient(settings, source="test")
    for number in NUMBERS:
        client.record_consent(number, "promo", True, source="test")
    client.flush()
    return settings


@pytest.fixture
def tables() -> Iterator[list[TopicTable]]:
    made: list[TopicTable] = []
    yield made
    for table in made:
        table.stop()


def table_of(tables: list[TopicTable], settings: Settings, instance: str) -> TopicTable:
    table = TopicTable(settings.model_copy(update={"instance_id": instance}), "consent", co_partitioned_with="send-requested")
    tables.append(table)
    table.start(timeout_s=60)
    return table


def partition_of(number: str, count: int = 3) -> int:
    return zlib.crc32(number.encode()) % count


def test_the_default_partitioner_is_crc32_and_rows_go_where_their_number_goes(opted_in: Settings) -> None:
    producer = Producer(producer_config(opted_in))
    placed: dict[str, int] = {}
    for number in NUMBERS[:40]:
        producer.produce(opted_in.topic("send-requested"), key=number, value=b"x",
                         on_delivery=lambda _e, m: placed.__setitem__(m.key().decode(), m.partition()))
    producer.flush(30)
    assert placed == {n: key_partition(n.encode(), 3) for n in NUMBERS[:40]}
    consumer = Consumer(consumer_config(opted_in, "test-placement", **{"enable.partition.eof": True}))
    consumer.assign([TopicPartition(opted_in.topic("consent"), p, 0) for p in range(3)])
    seen: dict[str, int] = {}
    ends = 0
    while ends < 3:
        message = consumer.poll(10)
        assert message is not None
        if message.error():
            ends += 1
            continue
        seen[message.key().decode()] = message.partition()
    consumer.close()
    assert seen == {f"{n}|promo": partition_of(n) for n in NUMBERS}
    assert all(row_partition("consent", f"{n}|promo", 3) == partition_of(n) for n in NUMBERS)
    assert row_partition("send-requested", "+33612340001", 3) is None


def test_an_instance_holds_only_its_partitions_and_two_hold_half_each(opted_in: Settings, tables: list[TopicTable]) -> None:
    first, second = table_of(tables, opted_in, "a"), table_of(tables, opted_in, "b")
    assert len(first) == 0 and first.partitions == []
    first.assign([0, 1], 3)
    second.assign([2], 3)
    mine = [n for n in NUMBERS if partition_of(n) in (0, 1)]
    assert len(first) == len(mine) and len(second) == len(NUMBERS) - len(mine)
    assert set(first) | set(second) == {f"{n}|promo" for n in NUMBERS} and not set(first) & set(second)
    for number in NUMBERS:
        owner = first if partition_of(number) in (0, 1) else second
        assert owner.holds(number) and owner[f"{number}|promo"]["status"] == "OPTED_IN"
        other = second if owner is first else first
        assert not other.holds(number)
        with pytest.raises(NotHeld):
            other.get(f"{number}|promo")


def test_revoked_partitions_close_and_come_back_from_their_store(opted_in: Settings, tables: list[TopicTable]) -> None:
    table = table_of(tables, opted_in, "a")
    table.assign([0, 1, 2], 3)
    assert len(table) == len(NUMBERS)
    table.revoke([1])
    assert table.partitions == [0, 2] and len(table) == len([n for n in NUMBERS if partition_of(n) != 1])
    changed = next(n for n in NUMBERS if partition_of(n) == 1)
    client = CourrierClient(opted_in, source="test")
    client.record_consent(changed, "promo", False, source="test")
    client.flush()
    before = table.loaded_at_start
    table.assign([1], 3)
    assert table.loaded_at_start - before == len([n for n in NUMBERS if partition_of(n) == 1])  # from its own store
    assert table[f"{changed}|promo"]["status"] == "OPTED_OUT" and len(table) == len(NUMBERS)  # and what came meanwhile


def test_a_table_and_an_input_of_different_partition_counts_are_refused(opted_in: Settings, tables: list[TopicTable]) -> None:
    table = table_of(tables, opted_in, "a")
    with pytest.raises(TopologyError, match="same count"):
        table.assign([0], 6)


def test_a_table_keyed_as_its_input_holds_keys_by_their_own_partition(settings: Settings, tables: list[TopicTable]) -> None:
    """message-state, keyed by message id as receipt's inputs are: placed by the default partitioner on the whole key."""
    producer = Producer(producer_config(settings))
    ids = [f"m-{i}" for i in range(30)]
    for message_id in ids:
        producer.produce(settings.topic("provider-ids"), key=message_id, value=b"x")
    producer.flush(30)
    table = TopicTable(settings.model_copy(update={"instance_id": "a"}), "provider-ids", co_partitioned_with="dispatched")
    tables.append(table)
    table.start(timeout_s=60)
    table.assign([1], 3)
    assert sorted(table) == sorted(m for m in ids if key_partition(m.encode(), 3) == 1)
    assert all(table.holds(m) == (key_partition(m.encode(), 3) == 1) for m in ids) and table.misplaced == 0


def test_a_row_on_the_wrong_partition_is_ignored_and_counted(opted_in: Settings, tables: list[TopicTable]) -> None:
    number = NUMBERS[0]
    wrong = (partition_of(number) + 1) % 3
    producer = Producer(producer_config(opted_in))
    producer.produce(opted_in.topic("consent"), key=f"{number}|other", value=b"not placed", partition=wrong)
    producer.flush(30)
    table = table_of(tables, opted_in, "a")
    table.assign([0, 1, 2], 3)
    assert table.misplaced == 1 and f"{number}|other" not in table and len(table) == len(NUMBERS)
