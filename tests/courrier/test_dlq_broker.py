"""`courrier dlq` against the real broker: filters, show, requeue once (remembered in dead-letter-handled), the refusal
of records their source topic's schema no longer reads, and purge."""
from __future__ import annotations

import io
import json
import struct
from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import parse_schema, schemaless_writer
from typer.testing import CliRunner

from common.config import Settings
from common.kafka_clients import producer_config
from courrier import dlq, dlq_cli
from processors.runtime import policy
from processors.runtime.serde import AvroSerde
from test_replay_broker import request  # noqa: I001 (same folder)

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def dead_letter(settings: Settings, producer: Producer, stage: str, source: str, key: str, value: bytes, error: Exception,
                at: datetime, offset: int) -> None:
    """A record as the runtime dead-letters it (processors/runtime/routing.py)."""
    headers = [("trace", b"t-1"), *policy.failure_headers(stage, error, settings.topic(source), 0, offset, at)]
    producer.produce(settings.topic("dead-letter"), key=key.encode(), value=value, headers=headers)


def foreign_bytes(settings: Settings) -> bytes:
    """A value written with a schema the source topic's current one cannot read (another record, other fields)."""
    schema = {"type": "record", "name": "Legacy", "namespace": "old", "fields": [{"name": "number", "type": "int"}]}
    registry = SchemaRegistryClient({"url": settings.registry_url})
    schema_id = registry.register_schema(f"{settings.topic_prefix}legacy-value", Schema(json.dumps(schema), "AVRO"))
    body = io.BytesIO()
    body.write(struct.pack(">bI", 0, schema_id))
    schemaless_writer(body, parse_schema(schema), {"number": 7})
    return body.getvalue()


@pytest.fixture
def letters(topic_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = topic_settings
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    good = [request(n, "spring") for n in range(3)]
    for n, value in enumerate(good[:2]):
        dead_letter(settings, producer, "consent", "send-requested", value["recipient"], serde.encode("send-requested", value),
                    ValueError(f"quiet hours file broken for {value['recipient']}"), T0 + timedelta(hours=n), n)
    dead_letter(settings, producer, "render", "send-requested", good[2]["recipient"], serde.encode("send-requested", good[2]),
                KeyError("template promo"), T0 + timedelta(days=1), 2)
    assert producer.flush(30) == 0
    monkeypatch.setattr(dlq_cli, "get_settings", lambda: settings)
    return settings


def count(settings: Settings, logical: str) -> int:
    """Records in a topic (offsets would count transaction markers too)."""
    return sum(1 for _ in dlq.read_to_end(settings, settings.topic(logical)))


def cli(*args: str, given: str | None = None):
    return CliRunner().invoke(dlq_cli.app, list(args), input=given, env={"COLUMNS": "250"})


def ids(settings: Settings, **selection) -> list[str]:
    return [r.id for r in dlq.read(settings, dlq.Selection(**selection))[0]]


def test_filters_by_stage_reason_time_and_key(letters: Settings) -> None:
    assert len(ids(letters)) == 3
    assert len(ids(letters, stage="consent")) == 2 and len(ids(letters, stage="render")) == 1
    assert len(ids(letters, reason="QUIET HOURS")) == 2 and len(ids(letters, reason="KeyError")) == 1
    assert len(ids(letters, since=T0 + timedelta(minutes=30), until=T0 + timedelta(days=1))) == 1
    assert len(ids(letters, key=request(2, "spring")["recipient"])) == 1
    listed = cli("list", "--stage", "consent")
    assert listed.exit_code == 0, listed.output
    assert "2 records" in listed.output and "ValueError" in listed.output and "+33612340000" not in listed.output, "numbers masked"


def test_show_prints_one_record_decoded_and_masked(letters: Settings) -> None:
    [first] = ids(letters, stage="render")
    shown = cli("show", first)
    assert shown.exit_code == 0, shown.output
    for line in ("stage: render", "reason: KeyError", "source topic: " + letters.topic("send-requested"), "source offset: 2",
                 "trace: t-1", "value (send-requested):", '"template_id": "promo"'):
        assert line in shown.output, shown.output
    assert "+33612340002" not in shown.output and "+3361****02" in shown.output
    missing = cli("show", "9:999")
    assert missing.exit_code == 1 and "no dead-letter record '9:999'" in missing.output


def test_requeue_sends_each_record_back_once(letters: Settings) -> None:
    before = count(letters, "send-requested")
    first = cli("requeue", "--stage", "consent")
    assert first.exit_code == 0 and "requeued 2 records" in first.output, first.output
    assert count(letters, "send-requested") == before + 2
    again = cli("requeue", "--stage", "consent")
    assert again.exit_code == 0 and "requeued 0 records" in again.output, again.output
    assert count(letters, "send-requested") == before + 2, "a second requeue sends nothing again"
    assert "1 records" in cli("list").output
    everything = cli("list", "--all")
    assert "3 records" in everything.output and everything.output.count("requeued 20") == 2, everything.output
    assert cli("requeue").exit_code == 2, "requeue names what to requeue"


def test_a_record_its_source_schema_no_longer_reads_is_refused_and_nothing_is_sent(letters: Settings) -> None:
    producer = Producer(producer_config(letters))
    dead_letter(letters, producer, "consent", "send-requested", "+33612349999", foreign_bytes(letters), ValueError("old"), T0, 9)
    dead_letter(letters, producer, "consent", "send-requested", "+33612349998", b"not avro", ValueError("garbage"), T0, 10)
    assert producer.flush(30) == 0
    before = count(letters, "send-requested")
    refused = cli("requeue", "--stage", "consent")
    assert refused.exit_code == 1 and refused.output.count("\n") == 1, refused.output
    [foreign] = ids(letters, key="+33612349999")
    [garbage] = ids(letters, key="+33612349998")
    assert f"{foreign}: does not decode with send-requested's current schema (body does not decode with schema id" in refused.output
    assert f"{garbage}: does not decode" in refused.output and "purge those or narrow the selection" in refused.output
    assert count(letters, "send-requested") == before and count(letters, dlq.MARKERS) == 0
    shown = cli("show", garbage)
    assert "not decodable" in shown.output and b"not avro".hex() in shown.output


def test_purge_asks_then_hides_the_records(letters: Settings) -> None:
    declined = cli("purge", "--stage", "render", given="n\n")
    assert declined.exit_code == 1 and "3 records" in cli("list").output
    purged = cli("purge", "--stage", "render", "--yes")
    assert purged.exit_code == 0 and "purged 1 records" in purged.output, purged.output
    assert "2 records" in cli("list").output
    assert "purged" in cli("list", "--all").output
    assert "dead-letter is not compacted" in " ".join(cli("purge", "--help").output.split())
    before = count(letters, "send-requested")
    assert "requeued 0 records" in cli("requeue", "--stage", "render").output
    assert count(letters, "send-requested") == before
