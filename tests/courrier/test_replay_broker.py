"""`courrier replay` against the real broker: dry-run publishes nothing, a replay copies the range once (stamped), an
interrupted one resumes where it stopped, and bad input is one line, nothing sent."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import typer
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from common.config import Settings
from common.kafka_clients import consumer_config, producer_config
from courrier import replay_cli, replay_copy
from courrier.replay import Interrupted, Request
from processors.rules import replay as headers
from processors.runtime.serde import AvroSerde

app = typer.Typer()
app.command()(replay_cli.command)


def request(n: int, campaign: str) -> dict:
    return {"context": {"message_id": f"m-{campaign}-{n}", "idempotency_key": None, "campaign_id": campaign, "variant": None,
                        "lane": "MARKETING", "subscription_group": "promotions", "requested_at": datetime.now(timezone.utc),
                        "source": "test"},
            "recipient": f"+3361234{n:04d}", "default_region": None, "template_id": "promo", "variables": {},
            "channel_policy": "SMS", "send_at": None, "validity_seconds": None, "locale": None, "time_zone": None}


def publish(settings: Settings, values: list[dict]) -> None:
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    for value in values:
        producer.produce(settings.topic("send-requested"), key=value["recipient"], value=serde.encode("send-requested", value))
    assert producer.flush(30) == 0


def ends(settings: Settings, logical: str) -> dict[int, int]:
    consumer = Consumer(consumer_config(settings, f"ends-{uuid.uuid4()}"))
    try:
        physical = settings.topic(logical)
        parts = consumer.list_topics(physical, timeout=10).topics[physical].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(physical, p), timeout=10)[1] for p in parts}
    finally:
        consumer.close()


def copies(settings: Settings) -> list[tuple[str, dict[str, bytes]]]:
    """The records of send-requested a replay wrote: (message id, headers)."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    consumer = Consumer(consumer_config(settings, f"copies-{uuid.uuid4()}"))
    physical = settings.topic("send-requested")
    found = []
    try:
        last = ends(settings, "send-requested")
        consumer.assign([TopicPartition(physical, p, 0) for p in last])
        deadline = time.monotonic() + 20
        while sum(last.values()) > sum(1 for _ in found) and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is None:
                    found.append((serde.decode("send-requested", message.value())["context"]["message_id"], dict(message.headers() or [])))
    finally:
        consumer.close()
    return [item for item in found if headers.REPLAY in item[1]]


@pytest.fixture
def published(topic_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, datetime]:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    publish(topic_settings, [request(n, "spring") for n in range(4)] + [request(n, "fall") for n in range(2)])
    monkeypatch.setattr(replay_cli, "get_settings", lambda: topic_settings)
    return topic_settings, before


def test_a_dry_run_counts_per_target_and_campaign_and_publishes_nothing(published) -> None:
    settings, before = published
    written = ends(settings, "send-requested")
    result = CliRunner().invoke(app, ["--topic", "send-requested", "--from", before.isoformat(), "--to", "now", "--into", "consent",
                                      "--dry-run"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "6 records of send-requested → send-requested (dry run)" in result.output
    rows = [line for line in result.output.splitlines() if "send-requested" in line and "│" in line]
    assert any("spring" in row and row.rstrip("│ ").endswith("4") for row in rows), result.output
    assert any("fall" in row and row.rstrip("│ ").endswith("2") for row in rows), result.output
    assert "6 records would be replayed" in result.output
    assert ends(settings, "send-requested") == written


def test_a_replay_copies_what_the_filter_keeps_once_each_stamped(published) -> None:
    settings, before = published
    result = CliRunner().invoke(app, ["--topic", "send-requested", "--from", before.isoformat(), "--to", "now", "--into", "consent",
                                      "--filter", "campaign=spring", "--force"])
    assert result.exit_code == 0, result.output
    assert "4 records replayed, 2 left out by the filters" in result.output
    sent = copies(settings)
    assert sorted(m for m, _h in sent) == [f"m-spring-{n}" for n in range(4)]
    replay_ids = {h[headers.REPLAY] for _m, h in sent}
    assert len(replay_ids) == 1 and replay_ids.pop().decode() in result.output
    assert all(headers.forced_at(h) is not None for _m, h in sent)


def test_an_interrupted_replay_says_where_it_stopped_and_resumes_to_the_end_once(published) -> None:
    settings, before = published
    now = datetime.now(timezone.utc)
    asked = Request(topic="send-requested", start=before.isoformat(), end="now", into="consent")
    plan = replay_copy.plan(settings, asked, now)
    seen = []

    def ctrl_c() -> None:
        seen.append(1)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as stopped:
        replay_copy.copy(settings, plan, on_record=ctrl_c)
    assert stopped.value.sent == 3 and stopped.value.why == "interrupted"
    assert sum(stopped.value.resume[s.partition] - s.start for s in plan.spans) == 3, "each partition goes on after what was sent"
    rest = replay_copy.plan(settings, asked, now, stopped.value.resume)
    assert replay_copy.copy(settings, rest).total == 3
    assert sorted(m for m, _h in copies(settings)) == sorted(f"m-{c}-{n}" for c, k in (("spring", 4), ("fall", 2)) for n in range(k))


def test_ctrl_c_prints_the_command_that_resumes(published, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, before = published

    def interrupted(*_args, **_kwargs):
        raise Interrupted("interrupted", 2, {0: 5, 1: 0, 2: 3})

    monkeypatch.setattr(replay_copy, "copy", interrupted)
    result = CliRunner().invoke(app, ["--topic", "send-requested", "--from", before.isoformat(), "--to", "now", "--into", "consent"])
    assert result.exit_code == 130
    assert "interrupted after 2 records; resume with:" in result.output
    assert f"courrier replay --topic send-requested --from {before.isoformat()} --to 20" in result.output
    assert "--into consent --resume 0:5,1:0,2:3" in result.output


@pytest.mark.parametrize("args, fragment", [
    (["--topic", "nosuch", "--into", "consent"], "topic 'nosuch' is not declared"),
    (["--topic", "send-requested", "--into", "nosuch"], "no stage 'nosuch'; choose one of"),
    (["--topic", "rendered", "--into", "consent"], "stage consent does not read records like rendered's"),
    (["--topic", "send-requested", "--into", "consent", "--to", "2020-01-01T00:00:00Z"], "nothing to replay: send-requested has no record"),
    (["--topic", "send-requested", "--into", "consent", "--from", "0"], "give --partition with an offset bound"),
    (["--topic", "send-requested", "--into", "consent", "--partition", "9"], "has no partition 9"),
    (["--topic", "send-requested", "--into", "consent", "--filter", "status=FAILED"], "--filter status: the records of send-requested"),
    (["--topic", "send-requested", "--into", "consent", "--from", "last week"], "neither an offset nor an ISO 8601 time"),
])
def test_bad_input_is_one_line_and_sends_nothing(published, args: list[str], fragment: str) -> None:
    settings, before = published
    written = ends(settings, "send-requested")
    defaults = {"--from": before.isoformat(), "--to": "now"}
    full = args + [word for name, value in defaults.items() if name not in args for word in (name, value)]
    result = CliRunner().invoke(app, full)
    assert result.exit_code == 1, result.stdout
    assert result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
    assert ends(settings, "send-requested") == written


def test_a_range_retention_deleted_is_refused(published) -> None:
    settings, before = published
    physical = settings.topic("send-requested")
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    busy = max(ends(settings, "send-requested").items(), key=lambda item: item[1])[0]
    [future] = admin.delete_records([TopicPartition(physical, busy, 1)]).values()
    future.result(30)
    result = CliRunner().invoke(app, ["--topic", "send-requested", "--from", before.isoformat(), "--to", "now",
                                                      "--into", "consent"])
    assert result.exit_code == 1 and "is before what" in result.stderr and "choose a later --from" in result.stderr, result.stderr
    offsets = CliRunner().invoke(app, ["--topic", "send-requested", "--from", "0", "--to", "5", "--partition", str(busy),
                                                       "--into", "consent"])
    assert offsets.exit_code == 1 and f"offset 0 of {physical}[{busy}] is gone" in offsets.stderr, offsets.stderr


def test_an_unreachable_broker_is_one_line(topic_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = topic_settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1", "broker_timeout_s": 1})
    monkeypatch.setattr(replay_cli, "get_settings", lambda: gone)
    result = CliRunner().invoke(app, ["--topic", "send-requested", "--from", "2026-01-01T00:00:00Z", "--to", "now",
                                                      "--into", "consent"])
    assert result.exit_code == 1 and "127.0.0.1:1 did not answer" in result.stderr and result.stderr.count("\n") == 1
