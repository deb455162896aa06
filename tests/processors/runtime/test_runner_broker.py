"""The runtime through a real broker: bad records are dead-lettered with their bytes, transient ones come back, the stage goes on."""
from __future__ import annotations

import struct
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Iterator

import pytest
from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from common.config import Settings
from common.errors import MissingTopics, TransientError
from common.kafka_clients import consumer_config
from processors.failed import beside_dead_letter
from processors.receipts import receipt
from processors.runtime import policy
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, Output, RecordMeta
from processors.scheduler.scheduler import Scheduler

JSON_SCHEMA = '{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"a": {"type": "string"}}}'


class ScriptedStage:
    """Answers by template id: ``ok`` → a receipt, ``boom`` → raises, ``later`` → transient on the first attempt only,
    ``misfit`` → an output that breaks its schema, ``side`` → the same as a side output at the next poll. A record it
    cannot handle gets a ``FAILED`` receipt beside its dead-letter record, as a stage on a message's path does."""

    name = "scripted"
    inputs = ("send-requested",)

    def __init__(self) -> None:
        self.attempts_seen: list[int] = []
        self._side: list[Output] = []

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        template = event["template_id"]
        misfit = Output("receipt", event["recipient"], {"status": "NOT A STATUS"})
        if template == "boom":
            raise ValueError("template boom always fails")
        if template == "misfit":
            return [misfit]
        if template == "side":
            self._side.append(misfit)
        if template == "later":
            attempt = int(meta.headers.get(policy.ATTEMPT, b"0"))
            self.attempts_seen.append(attempt)
            if attempt == 0:
                raise TransientError("provider busy", delay_s=0.5)
        return [receipt(event["context"], event["recipient"], "DELIVERED", self.name, meta.now)]

    def poll_outputs(self) -> list[Output]:
        side, self._side = self._side, []
        return side

    def dead_letter_outputs(self, event: Event, error: BaseException, meta: RecordMeta) -> list[Output]:
        return beside_dead_letter(self.name, event, error, meta)


def request(message_id: str, template: str) -> Event:
    return {
        "context": {"message_id": message_id, "lane": "TRANSACTIONAL", "requested_at": datetime.now(timezone.utc)},
        "recipient": "+33612345678", "template_id": template, "channel_policy": "SMS",
    }


def read_all(settings: Settings, logical: str, expected: int, timeout_s: float = 30.0) -> list[Message]:
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4()}"))
    consumer.subscribe([settings.topic(logical)])
    found: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while len(found) < expected and time.monotonic() < deadline:
        found.extend(m for m in consumer.consume(100, 0.2) if m.error() is None)
    consumer.close()
    return found


@pytest.fixture
def running(topic_settings: Settings, request: pytest.FixtureRequest) -> Iterator[tuple[Settings, ScriptedStage, Runner]]:
    stage = ScriptedStage()
    runner = Runner(stage, topic_settings, RunnerOptions(batch_size=50, exactly_once=request.param, metrics_port=0))
    scheduler = Scheduler(topic_settings, metrics_port=0)
    threads = [threading.Thread(target=runner.run, daemon=True), threading.Thread(target=scheduler.run, daemon=True)]
    for thread in threads:
        thread.start()
    yield topic_settings, stage, runner
    runner.stop()
    scheduler.stop()
    for thread in threads:
        thread.join(30)


@pytest.mark.parametrize("running", [False, True], ids=["at-least-once", "exactly-once"], indirect=True)
def test_bad_records_are_dead_lettered_and_the_stage_goes_on(running: tuple[Settings, ScriptedStage, Runner]) -> None:
    settings, stage, runner = running
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    topic = settings.topic("send-requested")
    key = b"+33612345678"  # one key: every record lands in one partition, good records after bad ones
    valid = serde.encode("send-requested", request("ok-0", "ok"))
    unknown_id = b"\x00" + struct.pack(">I", 2_000_000_000) + valid[5:]
    garbage = b"definitely not avro"
    registry = SchemaRegistryClient({"url": settings.registry_url})
    json_id = registry.register_schema(f"{settings.topic('elsewhere')}-value", Schema(JSON_SCHEMA, "JSON"))
    json_schema_id = b"\x00" + struct.pack(">I", json_id) + valid[5:]
    trailing = valid + b"\x02extra"
    undecodable = [garbage, unknown_id, json_schema_id, trailing]
    for value in undecodable:
        producer.produce(topic, key=key, value=value)
    producer.produce(topic, key=key, value=serde.encode("send-requested", request("boom-0", "boom")))
    producer.produce(topic, key=key, value=serde.encode("send-requested", request("later-0", "later")))
    producer.produce(topic, key=key, value=serde.encode("send-requested", request("misfit-0", "misfit")))
    producer.produce(topic, key=key, value=serde.encode("send-requested", request("side-0", "side")))
    for i in range(10):
        producer.produce(topic, key=key, value=serde.encode("send-requested", request(f"ok-{i + 1}", "ok")))
    producer.flush()

    receipts = [serde.decode("receipt", m.value()) for m in read_all(settings, "receipt", expected=14)]
    delivered = sorted(r["context"]["message_id"] for r in receipts if r["status"] == "DELIVERED")
    assert delivered == sorted([f"ok-{i + 1}" for i in range(10)] + ["later-0", "side-0"])
    failed = {r["context"]["message_id"]: r for r in receipts if r["status"] == "FAILED"}
    assert set(failed) == {"boom-0", "misfit-0"}  # a dead-lettered message still gets its one terminal receipt
    assert failed["boom-0"]["reason"] == "dead_lettered" and failed["boom-0"]["terminal"]
    assert "ValueError: template boom always fails" in failed["boom-0"]["detail"]
    assert stage.attempts_seen == [0, 1]

    dead = read_all(settings, "dead-letter", expected=7)
    by_class: dict[str, list[Message]] = {}
    for m in dead:
        by_class.setdefault(policy.header(m.headers(), policy.ERROR_CLASS) or "", []).append(m)
    assert sorted(m.value() for m in by_class.pop("DecodeError")) == sorted(undecodable)
    boom = next(m for m in by_class["ValueError"] if policy.header(m.headers(), policy.ERROR_MESSAGE) == "template boom always fails")
    assert policy.header(boom.headers(), policy.STAGE) == "scripted"
    assert policy.header(boom.headers(), policy.SOURCE_TOPIC) == topic
    assert policy.header(boom.headers(), policy.SOURCE_OFFSET) == "4"
    assert boom.key() == key
    assert serde.decode("send-requested", boom.value())["context"]["message_id"] == "boom-0"
    misfits = [m for ms in by_class.values() for m in ms if m is not boom]
    assert len(misfits) == 2  # the input whose output broke its schema, and the side output that did, kept as JSON
    assert b"NOT A STATUS" in next(m.value() for m in misfits if policy.header(m.headers(), policy.SOURCE_OFFSET) == "-1")

    consumed = runner.metrics.consumed.labels("scripted", "send-requested")._value.get()
    assert consumed == 19  # 18 first deliveries and the retried one


@pytest.mark.parametrize("running", [False], ids=["at-least-once"], indirect=True)
def test_metrics_and_health_are_served(running: tuple[Settings, ScriptedStage, Runner]) -> None:
    import httpx

    settings, _stage, runner = running
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    producer.produce(settings.topic("send-requested"), key=b"k", value=serde.encode("send-requested", request("m-1", "ok")))
    producer.flush()
    assert len(read_all(settings, "receipt", expected=1)) == 1
    port = runner.metrics_port
    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["stage"] == "scripted"
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'courrier_consumed_total{stage="scripted",topic="send-requested"} 1.0' in metrics
    assert 'courrier_processing_seconds_count{stage="scripted"} 1.0' in metrics


def test_a_stage_whose_topics_are_missing_stops_at_once_naming_them_and_what_to_run(real_parts: Settings) -> None:
    # A new version's topics (a lane's) before `courrier topology apply`: a broker creating topics on first use would
    # make them with its own partition count, so the stage refuses to start instead.
    settings = real_parts.model_copy(update={"topic_prefix": f"t-missing-{uuid.uuid4().hex[:8]}-"})
    with pytest.raises(MissingTopics) as refused:
        Runner(ScriptedStage(), settings, RunnerOptions(metrics_port=0)).run()
    message = str(refused.value)
    assert settings.topic("send-requested") in message and settings.topic("send-requested-transactional") in message
    assert "run `courrier topology apply`" in message
