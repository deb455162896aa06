"""``courrier export receipts`` on the real broker and the local S3: receipts of a range, by day, as Parquet in a folder
and in an S3 prefix, read back with pyarrow equal to what was produced; outside the range, nothing."""
from __future__ import annotations

import io
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from confluent_kafka import Producer

from common.config import Settings
from common.kafka_clients import producer_config
from courrier.export_schema import arrow_schema
from courrier.processes import settings_env
from infra.parts import s3
from processors.receipts import receipt
from processors.runtime.serde import AvroSerde

START = datetime(2026, 11, 29, 22, 0, tzinfo=timezone.utc)


def produce(settings: Settings, count: int) -> list[dict]:
    """``count`` receipts two hours apart from START, as the topic's reader decodes them."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    decoded = []
    for n in range(count):
        context = {"message_id": str(uuid.uuid4()), "idempotency_key": None, "campaign_id": None, "variant": None,
                   "lane": "TRANSACTIONAL", "subscription_group": None, "requested_at": START, "source": "test"}
        output = receipt(context, f"+3361234{n:04d}", "DELIVERED", "receipt", START + timedelta(hours=2 * n), channel="SMS",
                         segments=2, cost_micros=90_000, currency="EUR", provider="smpp")
        data = serde.encode("receipt", output.value)
        producer.produce(settings.topic("receipt"), key=output.key, value=data)
        decoded.append(serde.decode("receipt", data))
    assert producer.flush(30) == 0
    return decoded


def export(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courrier.entry", "export", "receipts", *args], capture_output=True, text=True,
                          timeout=180, env=settings_env(settings))


@pytest.fixture
def bucket(real_parts: Settings) -> Iterator[str]:
    client = s3.client(real_parts)
    name = f"export-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name)
    yield name
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def test_a_range_exported_to_a_folder_and_to_s3_reads_back_equal(topic_settings: Settings, tmp_path: Path, bucket: str) -> None:
    settings = topic_settings
    produced = produce(settings, 6)  # 22:00 on the 29th, then 00:00 … 08:00 on the 30th
    wanted = [r for r in produced if START + timedelta(hours=1) <= r["occurred_at"] < START + timedelta(hours=8)]
    since, until = (START + timedelta(hours=1)).isoformat(), (START + timedelta(hours=8)).isoformat()

    result = export(settings, "--from", since, "--to", until, "--out", str(tmp_path / "lake"))
    assert result.returncode == 0, result.stderr
    assert "3 receipts in 1 parquet files" in result.stdout and "2026-11-30 3" in result.stdout
    table = ds.dataset(tmp_path / "lake", format="parquet", partitioning="hive", schema=arrow_schema("Receipt")).to_table()
    assert sorted(table.to_pylist(), key=lambda r: r["occurred_at"]) == wanted

    result = export(settings, "--from", "2026-11-29", "--to", "2026-12-01", "--out", f"s3://{bucket}/courrier/receipts")
    assert result.returncode == 0, result.stderr
    client = s3.client(settings)
    keys = sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"])
    assert [key.split("/")[2] for key in keys] == ["dt=2026-11-29", "dt=2026-11-30"]
    assert all(key.startswith("courrier/receipts/dt=") and key.endswith(".parquet") for key in keys)
    rows = [row for key in keys for row in pq.read_table(io.BytesIO(client.get_object(Bucket=bucket, Key=key)["Body"].read())).to_pylist()]
    assert sorted(rows, key=lambda r: r["occurred_at"]) == produced


def test_a_missing_bucket_is_one_line(topic_settings: Settings) -> None:
    result = export(topic_settings, "--from", "2026-11-29", "--to", "2026-11-30", "--out", f"s3://no-such-{uuid.uuid4().hex[:8]}/x")
    assert result.returncode == 1 and "cannot be written" in result.stderr and result.stderr.count("\n") == 1
