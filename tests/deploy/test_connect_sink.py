"""deploy/connect/s3-sink.json stays in step with the code: the declared receipt topic, the registry's
Confluent-compatible URL, a partition field the Receipt schema has, the export's day layout, and no inline secret."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.config import Settings
import schemas
from topology.topics import topic

SINK = Path(__file__).resolve().parents[2] / "deploy" / "connect" / "s3-sink.json"


@pytest.fixture(scope="module")
def config() -> dict[str, str]:
    document = json.loads(SINK.read_text())
    assert set(document) == {"name", "config"}  # the body of Connect's POST /connectors
    assert all(isinstance(value, str) for value in document["config"].values())
    return document["config"]


def test_it_reads_the_receipt_topic_with_its_schema_from_the_registry(config: dict[str, str]) -> None:
    defaults = Settings(_env_file=None, kafka_bootstrap_servers=None, schema_registry_url=None, s3_endpoint_url=None)
    assert config["topics"] == topic("receipt").name and topic("receipt").value_schema == "Receipt"
    assert config["value.converter"] == "io.confluent.connect.avro.AvroConverter"
    assert config["value.converter.schema.registry.url"] == defaults.registry_url
    assert config["store.url"] == defaults.s3_url
    assert config["consumer.override.isolation.level"] == "read_committed"  # receipts are written in transactions


def test_it_partitions_by_the_day_of_occurred_at_like_the_export(config: dict[str, str]) -> None:
    fields = {field["name"]: field for field in json.loads(schemas.schema_json("Receipt"))["fields"]}
    assert config["timestamp.extractor"] == "RecordField" and config["timestamp.field"] in fields
    assert fields[config["timestamp.field"]]["type"]["logicalType"] == "timestamp-millis"
    assert config["path.format"] == "'dt'=YYYY-MM-dd" and config["partition.duration.ms"] == str(24 * 3600 * 1000)
    assert config["timezone"] == "UTC" and config["format.class"].endswith("ParquetFormat")


def test_no_secret_is_written_in_it(config: dict[str, str]) -> None:
    for key in ("aws.access.key.id", "aws.secret.access.key"):
        assert config[key].startswith("${env:") and config[key].endswith("}")
