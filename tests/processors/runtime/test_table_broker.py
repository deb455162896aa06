"""Through the broker: a TopicTable's local store holds the topic, a restart reads only what is new, and a corrupt,
missing or stale store is rebuilt from the topic (one log line) without a wrong answer."""
from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from common.config import Settings
from common.errors import UnreachableError
from common.kafka_clients import producer_config
from processors.runtime.serde import AvroSerde
from processors.runtime.table import TopicTable
from processors.runtime.testing import wait_for_row
from topology.apply import apply as apply_topology

RAW = "scheduler-released"  # compacted, no value schema: rows are the records' bytes


@pytest.fixture
def settings(topic_settings: Settings, tmp_path: Path) -> Settings:
    """The test's topics, and a state dir of its own (its tables' stores)."""
    return topic_settings.model_copy(update={"state_dir": tmp_path})


def produce(settings: Settings, logical: str, rows: dict[str, bytes | None]) -> None:
    producer = Producer(producer_config(settings))
    for key, value in rows.items():
        producer.produce(settings.topic(logical), key=key, value=value)
    assert producer.flush(30) == 0


@pytest.fixture
def tables(settings: Settings) -> Iterator[list[TopicTable]]:
    """Tables a test starts; each is stopped at the end (stopping twice is harmless)."""
    started: list[TopicTable] = []
    yield started
    for table in started:
        table.stop()


def started(tables: list[TopicTable], settings: Settings, logical: str = RAW, **kwargs: object) -> TopicTable:
    table = TopicTable(settings, logical, **kwargs)  # type: ignore[arg-type]
    tables.append(table)
    table.start(timeout_s=60)
    return table


def test_rows_load_tombstones_delete_and_new_records_follow(settings: Settings, tables: list[TopicTable]) -> None:
    produce(settings, RAW, {f"k{i}": f"v{i}".encode() for i in range(50)})
    produce(settings, RAW, {"k3": b"again", "k7": None})
    table = started(tables, settings)
    assert len(table) == 49 and table["k3"] == b"again" and "k7" not in table and table.get("k7") is None
    assert sorted(table) == sorted(f"k{i}" for i in range(50) if i != 7)
    assert table.path is not None and table.path.is_relative_to(settings.state_dir / "tables" / settings.topic(RAW))
    produce(settings, RAW, {"new": b"row", "k3": None})
    assert wait_for_row(table, "new", timeout_s=30) == b"row"
    assert table.get("k3") is None and len(table) == 49


def test_a_restart_reads_only_what_is_new(settings: Settings, tables: list[TopicTable]) -> None:
    produce(settings, RAW, {f"k{i}": b"x" for i in range(300)})
    first = started(tables, settings)
    assert first.records_read == 300
    path = first.path
    first.stop()
    produce(settings, RAW, {"k0": None, "later": b"y"})
    again = started(tables, settings)
    assert again.path == path, "a restarted table takes its store back"
    assert again.loaded_at_start == 300 and again.records_read == 2
    assert len(again) == 300 and again.get("later") == b"y" and "k0" not in again


def test_two_tables_of_one_topic_never_share_a_store(settings: Settings, tables: list[TopicTable]) -> None:
    produce(settings, RAW, {"a": b"1"})
    one, two = started(tables, settings), started(tables, settings)
    assert one.path != two.path
    assert one["a"] == two["a"] == b"1"


def test_a_corrupt_store_is_rebuilt_with_one_log_line(settings: Settings, tables: list[TopicTable],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    produce(settings, RAW, {f"k{i}": b"v" for i in range(20)})
    table = started(tables, settings)
    path = table.path
    assert path is not None
    table.stop()
    for name in path.iterdir():  # every file of the store garbled: RocksDB refuses to open it
        if name.is_file():
            name.write_bytes(b"\x00garbage" * 10)
    with caplog.at_level(logging.WARNING, logger="processors.runtime.table"):
        rebuilt = started(tables, settings)
    assert [r.reason for r in caplog.records if r.getMessage() == "table store rebuilt from its topic"]  # type: ignore[attr-defined]
    assert len(rebuilt) == 20 and rebuilt.records_read == 20


def test_a_store_without_its_offsets_record_is_rebuilt(settings: Settings, tables: list[TopicTable],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    from rocksdict import Rdict

    produce(settings, RAW, {"a": b"1", "b": b"2"})
    table = started(tables, settings)
    path = table.path
    assert path is not None
    table.stop()
    produce(settings, RAW, {"a": None})  # a tombstone the store would miss if it trusted a store without offsets
    db = Rdict(str(path))
    for key in [k for k in db.keys() if k.startswith(b"m")]:
        del db[key]
    db.close()
    with caplog.at_level(logging.WARNING, logger="processors.runtime.table"):
        rebuilt = started(tables, settings)
    reasons = [r.reason for r in caplog.records if r.getMessage() == "table store rebuilt from its topic"]  # type: ignore[attr-defined]
    assert reasons == ["no offsets record"]
    assert "a" not in rebuilt and rebuilt.get("b") == b"2" and len(rebuilt) == 1


def test_a_store_of_a_topic_deleted_and_created_again_is_not_trusted(settings: Settings, tables: list[TopicTable],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    produce(settings, RAW, {f"old{i}": b"x" for i in range(10)})
    started(tables, settings).stop()
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    admin.delete_topics([settings.topic(RAW)], operation_timeout=30)[settings.topic(RAW)].result()
    for _ in range(50):  # the broker forgets a deleted topic asynchronously
        try:
            apply_topology(settings)
            break
        except Exception:
            time.sleep(0.2)
    produce(settings, RAW, {f"new{i}": b"y" for i in range(12)})
    with caplog.at_level(logging.WARNING, logger="processors.runtime.table"):
        table = started(tables, settings)
    assert any(r.getMessage() == "table store rebuilt from its topic" for r in caplog.records)
    assert sorted(table) == sorted(f"new{i}" for i in range(12))


def test_a_deleted_store_only_costs_a_restore(settings: Settings, tables: list[TopicTable]) -> None:
    produce(settings, RAW, {f"k{i}": b"v" for i in range(30)})
    table = started(tables, settings)
    path = table.path
    assert path is not None
    table.stop()
    shutil.rmtree(path)
    again = started(tables, settings)
    assert len(again) == 30 and again.loaded_at_start == 0 and again.records_read == 30


def test_rows_decode_on_lookup_and_listeners_see_the_stored_ones(settings: Settings, tables: list[TopicTable]) -> None:
    serde = AvroSerde(settings.registry_url, settings.topic)
    change = {"e164": "+33612345678", "subscription_group": "promotions", "status": "OPTED_IN", "basis": "MARKETING",
              "source": "test", "evidence": None, "changed_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    produce(settings, "consent", {"+33612345678|promotions": serde.encode("consent", change)})
    started(tables, settings, "consent").stop()
    seen: list[str] = []
    table = TopicTable(settings, "consent", serde)
    tables.append(table)
    table.listen(lambda key, row: seen.append(row["status"]))
    table.start(timeout_s=60)
    assert seen == ["OPTED_IN"], "rows already in the store reach a listener registered before start"
    assert table["+33612345678|promotions"]["status"] == "OPTED_IN"
    produce(settings, "consent", {"+33612345678|promotions": serde.encode("consent", {**change, "status": "OPTED_OUT"})})
    assert wait_for_row(table, "+33612345678|promotions") is not None
    for _ in range(200):
        if table["+33612345678|promotions"]["status"] == "OPTED_OUT":
            break
        time.sleep(0.05)
    assert table["+33612345678|promotions"]["status"] == "OPTED_OUT", "a cached decoded row never outlives a newer record"
    assert seen == ["OPTED_IN", "OPTED_OUT"]


def test_a_table_that_cannot_load_in_time_says_which_and_how_far(settings: Settings) -> None:
    produce(settings, RAW, {f"k{i}": b"v" for i in range(5_000)})
    release = threading.Event()
    table = TopicTable(settings, RAW)
    table.listen(lambda key, row: release.wait())  # the table's thread stops at its first row, as a stuck load would
    try:
        with pytest.raises(UnreachableError) as raised:
            table.start(timeout_s=3)
    finally:
        release.set()
        table.stop()
    message = str(raised.value)
    assert settings.topic(RAW) in message and "of 5,000 records read" in message and "partition 0 at" in message
