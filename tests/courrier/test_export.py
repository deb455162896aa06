"""The Avro → Arrow schema and the day-partitioned writers, without a broker: Parquet round-trips through pyarrow with
the Avro contract's columns, JSON lines keep every field, the range is [from, to), and a re-export replaces files."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from courrier.export import FolderSink, ReceiptExport, parse_s3
from courrier.export_schema import UnsupportedAvro, _field, arrow_schema
from processors.receipts import receipt

DAY1 = datetime(2026, 11, 30, 23, 59, 59, 500_000, tzinfo=timezone.utc)


def receipts(count: int, start: datetime = DAY1, step: timedelta = timedelta(seconds=1)) -> list[dict]:
    made = []
    for n in range(count):
        context = {"message_id": f"m{n}", "idempotency_key": None, "campaign_id": "c1" if n % 2 else None, "variant": None,
                   "lane": "TRANSACTIONAL", "subscription_group": None, "requested_at": start, "source": "test", "api_key_id": None}
        value = receipt(context, f"+3361234{n:04d}", "DELIVERED" if n % 3 else "SENT", "receipt", start + n * step, channel="SMS",
                        segments=1, cost_micros=45_000, currency="EUR", provider="smpp").value
        made.append(value)
    return made


def with_every_field(value: dict) -> dict:
    """A receipt as the topic's reader schema decodes it: every context field present (later ones default to null)."""
    names = {f.name for f in arrow_schema("Receipt").field("context").type}
    return {**value, "context": {**{name: None for name in names}, **value["context"]}}


def test_the_receipt_schema_maps_avro_types_and_nullability() -> None:
    schema = arrow_schema("Receipt")
    assert schema.field("occurred_at").type == pa.timestamp("ms", tz="UTC") and not schema.field("occurred_at").nullable
    assert schema.field("status").type == pa.string() and b"DELIVERED" in schema.field("status").metadata[b"avro_enum"]
    assert schema.field("segments").type == pa.int32() and schema.field("segments").nullable
    assert schema.field("cost_micros").type == pa.int64() and schema.field("terminal").type == pa.bool_()
    context = schema.field("context").type
    assert pa.types.is_struct(context) and context.field("requested_at").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("reason").metadata[b"doc"].startswith(b"Machine-readable reason")
    assert schema.metadata[b"avro_schema"] == b"courrier.Receipt"
    assert pa.types.is_map(arrow_schema("SendRequested").field("variables").type)


def test_a_union_of_two_types_is_refused() -> None:
    with pytest.raises(UnsupportedAvro, match="2 non-null branches"):
        _field({"name": "x", "type": ["null", "string", "long"]}, {})


def test_parquet_by_day_round_trips_through_pyarrow(tmp_path: Path) -> None:
    rows = [with_every_field(r) for r in receipts(5)]
    report = ReceiptExport(FolderSink(tmp_path), "parquet", DAY1 - timedelta(days=1), DAY1 + timedelta(days=1)).add_all(rows)
    assert dict(report.rows) == {"2026-11-30": 1, "2026-12-01": 4} and len(report.files) == 2
    assert sorted(p.parent.name for p in tmp_path.rglob("*.parquet")) == ["dt=2026-11-30", "dt=2026-12-01"]
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive", schema=arrow_schema("Receipt")).to_table()
    assert sorted(table.to_pylist(), key=lambda r: r["context"]["message_id"]) == rows


def test_jsonl_keeps_every_field_and_the_range_excludes_its_end(tmp_path: Path) -> None:
    rows = receipts(6, step=timedelta(hours=1))
    until = rows[4]["occurred_at"]  # excluded
    report = ReceiptExport(FolderSink(tmp_path), "jsonl", rows[1]["occurred_at"], until).add_all(rows)
    assert report.total == 3
    read = [json.loads(line) for path in sorted(tmp_path.rglob("*.jsonl")) for line in path.read_text().splitlines()]
    assert [r["context"]["message_id"] for r in read] == ["m1", "m2", "m3"]
    assert read[0]["occurred_at"] == rows[1]["occurred_at"].isoformat() and read[0]["cost_micros"] == 45_000


def test_chunks_make_several_files_a_day_and_a_second_export_replaces_them(tmp_path: Path) -> None:
    rows = [with_every_field(r) for r in receipts(7, start=DAY1 + timedelta(seconds=1))]
    since, until = DAY1, DAY1 + timedelta(days=1)
    first = ReceiptExport(FolderSink(tmp_path), "parquet", since, until, chunk_rows=3).add_all(rows)
    second = ReceiptExport(FolderSink(tmp_path), "parquet", since, until, chunk_rows=3).add_all(rows)
    assert len(first.files) == 3 and first.files == second.files
    assert ds.dataset(tmp_path, format="parquet", partitioning="hive").count_rows() == 7
    assert not list(tmp_path.rglob(".part-*"))


def test_s3_urls() -> None:
    assert parse_s3("s3://lake/raw/courrier/") == ("lake", "raw/courrier")
    assert parse_s3("s3://lake") == ("lake", "")
    with pytest.raises(ValueError):
        parse_s3("s3:///nobucket")
