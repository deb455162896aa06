"""Campaigns through the real broker: audiences land on send-requested with replayable ids and variants, the campaigns
record follows start and cancel, a cancel stops a running send, and status counts the campaign's receipts."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from common.config import Settings
from common.kafka_clients import consumer_config, producer_config
from courrier.processes import settings_env
from processors.campaigns.audience import open_audience
from processors.campaigns.control import CampaignError, cancel_campaign
from processors.runtime.snapshot import read_row
from processors.campaigns.logic import CampaignSpec, message_id, recipient_key
from processors.campaigns.publish import CampaignSend, SendReport
from processors.campaigns.status import count_receipts
from processors.campaigns.variants import Variant, VariantPlan
from processors.receipts import receipt
from processors.runtime.serde import AvroSerde

PLAN = VariantPlan([Variant("A", 1, "SMS"), Variant("B", 1, "RCS_WITH_SMS_FALLBACK")])


def read_all(settings: Settings, logical: str, expected: int, timeout_s: float = 60.0, settle_s: float = 1.0) -> list[tuple[str, dict]]:
    """Every record of ``logical`` from the beginning: waits for ``expected`` of them, then ``settle_s`` more for any extra."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    physical = settings.topic(logical)
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4()}"))
    partitions = consumer.list_topics(physical, timeout=10).topics[physical].partitions
    consumer.assign([TopicPartition(physical, p, OFFSET_BEGINNING) for p in partitions])
    records: list[tuple[str, dict]] = []
    deadline = time.monotonic() + timeout_s
    settled_at: float | None = None
    try:
        while time.monotonic() < (settled_at or deadline):
            for message in consumer.consume(500, 0.2):
                if message.error() is None:
                    records.append((message.key().decode(), serde.decode(logical, message.value())))
            if settled_at is None and len(records) >= expected:
                settled_at = time.monotonic() + settle_s
        return records
    finally:
        consumer.close()


def write_csv(path: Path, recipients: list[str]) -> Path:
    path.write_text("recipient,region,first_name,discount\n" + "".join(f"{r},FR,Ava,{n % 50}\n" for n, r in enumerate(recipients)))
    return path


def send(settings: Settings, spec: CampaignSpec, path: Path, **options: object) -> SendReport:
    audience = open_audience(path)
    sender = CampaignSend(settings, spec)
    try:
        sender.start(str(path), "test")
        return sender.stream(audience, **options)  # type: ignore[arg-type]
    finally:
        sender.close()
        audience.close()


def test_a_csv_audience_lands_on_send_requested_with_variants_and_ids_a_rerun_repeats(topic_settings: Settings, tmp_path: Path) -> None:
    settings = topic_settings
    recipients = [f"+3361234{n:04d}" for n in range(28)] + ["not-a-number", "06 12 34 00 00"]  # the last is the first, written nationally
    path = write_csv(tmp_path / "audience.csv", recipients)
    spec = CampaignSpec(campaign_id=f"spring-{uuid.uuid4().hex[:6]}", template_id="promo_spring", policy="SMS",
                        subscription_group="promotions", variants=PLAN)

    report = send(settings, spec, path)
    assert (report.outcome, report.rows, report.delivered, report.failed) == ("completed", 30, 30, 0)
    assert dict(report.problems) == {"unparseable_number": 1}
    records = read_all(settings, "send-requested", 30)
    assert len(records) == 30
    for key, value in records:
        context = value["context"]
        person = recipient_key(key, "FR")[0]
        assert value["recipient"] == key
        assert context["message_id"] == message_id(spec.campaign_id, person, recipients.index(key))
        assert context["idempotency_key"] == f"campaign:{spec.campaign_id}:{person}"
        assert (context["campaign_id"], context["lane"], context["source"]) == (spec.campaign_id, "MARKETING", "campaign")
        assert context["variant"] == PLAN.assign(spec.campaign_id, person).name
        assert value["channel_policy"] == ("SMS" if context["variant"] == "A" else "RCS_WITH_SMS_FALLBACK")
    assert {v["context"]["variant"] for _, v in records} == {"A", "B"}
    # One person listed twice: two messages under one idempotency key (consent ends the second as a duplicate).
    assert len({v["context"]["message_id"] for _, v in records}) == 30
    assert len({v["context"]["idempotency_key"] for _, v in records}) == 29

    record = read_row(settings, "campaigns", spec.campaign_id)
    assert record is not None
    assert (record["state"], record["template_id"], record["audience"], record["variants"], record["changed_by"]) == (
        "ACTIVE", "promo_spring", str(path), {"A": 1.0, "B": 1.0}, "test")

    again = send(settings, spec, path)
    assert again.rows == 30
    # The re-run wrote the same 30 records again: each (key, message id, variant) now appears exactly twice.
    both = Counter((k, v["context"]["message_id"], v["context"]["variant"]) for k, v in read_all(settings, "send-requested", 60))
    assert sum(both.values()) == 60 and set(both.values()) == {2}
    assert set(both) == {(k, v["context"]["message_id"], v["context"]["variant"]) for k, v in records}


def test_a_parquet_audience_through_the_command(topic_settings: Settings, tmp_path: Path) -> None:
    settings = topic_settings
    path = tmp_path / "audience.parquet"
    recipients = [f"+3361235{n:04d}" for n in range(50)]
    pq.write_table(pa.table({"recipient": recipients, "first_name": ["Bo"] * 50, "discount": pa.array(range(50), pa.int64()),
                             "locale": ["fr-FR"] * 50}), path)
    campaign = f"summer-{uuid.uuid4().hex[:6]}"
    result = subprocess.run(
        [sys.executable, "-m", "courrier.entry", "campaign", "send", "--template", "promo_spring", "--audience", str(path),
         "--group", "promotions", "--campaign-id", campaign, "--variant", "A=1:sms", "--variant", "B=1:rcs_with_sms_fallback",
         "--validity", "3600", "--send-at", "2030-01-02T03:04:05+01:00", "--json"],
        capture_output=True, text=True, timeout=120, env=settings_env(settings))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["outcome"], summary["rows"], summary["delivered"], summary["rows_with_problems"]) == ("completed", 50, 50, 0)
    records = read_all(settings, "send-requested", 50)
    assert len(records) == 50
    by_id = {v["context"]["message_id"]: v for _, v in records}
    assert set(by_id) == {message_id(campaign, r, index) for index, r in enumerate(recipients)}
    first = by_id[message_id(campaign, recipients[7], 7)]
    assert first["variables"] == {"first_name": "Bo", "discount": "7"} and first["locale"] == "fr-FR"
    assert first["validity_seconds"] == 3600 and first["send_at"] == datetime(2030, 1, 2, 2, 4, 5, tzinfo=timezone.utc)
    counts = {name: sum(v["context"]["variant"] == name for v in by_id.values()) for name in ("A", "B")}
    assert counts == summary["variants"]
    assert read_row(settings, "campaigns", campaign)["state"] == "ACTIVE"  # type: ignore[index]


def test_a_cancel_stops_a_running_send_and_the_id_cannot_be_sent_again(topic_settings: Settings, tmp_path: Path) -> None:
    settings = topic_settings
    path = write_csv(tmp_path / "audience.csv", [f"+336{n:08d}" for n in range(3000)])
    spec = CampaignSpec(campaign_id=f"autumn-{uuid.uuid4().hex[:6]}", template_id="promo_spring", policy="SMS",
                        subscription_group="promotions")
    progress: list[int] = []
    outcome: list[SendReport] = []
    # 100 rows a second: the 3,000 rows would take 30 s, so the cancel lands mid-send.
    runner = threading.Thread(target=lambda: outcome.append(send(settings, spec, path, rate=100.0, check_every_s=0.2,
                                                                 on_progress=lambda r, _p: progress.append(r.rows))), daemon=True)
    runner.start()
    deadline = time.monotonic() + 30
    while (not progress or progress[-1] < 50) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert progress and progress[-1] >= 50, "the send never got going"

    record, already = cancel_campaign(settings, spec.campaign_id, "ops")
    assert not already
    runner.join(30)
    assert not runner.is_alive() and outcome
    report = outcome[0]
    assert report.outcome == "cancelled" and 50 <= report.rows < 3000
    assert report.delivered + report.withdrawn == report.rows and report.failed == 0
    assert len(read_all(settings, "send-requested", report.delivered)) == report.delivered

    stored = read_row(settings, "campaigns", spec.campaign_id)
    assert stored is not None
    assert (stored["state"], stored["changed_by"], stored["template_id"]) == ("CANCELLED", "ops", "promo_spring")
    assert cancel_campaign(settings, spec.campaign_id, "ops")[1] is True
    with pytest.raises(CampaignError, match="was cancelled at"):
        send(settings, spec, path)
    with pytest.raises(CampaignError, match="no campaign 'never-started'"):
        cancel_campaign(settings, "never-started", "ops")


def test_status_shows_the_state_and_counts_receipts_per_variant_status_and_channel(topic_settings: Settings, tmp_path: Path) -> None:
    settings = topic_settings
    campaign = f"winter-{uuid.uuid4().hex[:6]}"
    send(settings, CampaignSpec(campaign_id=campaign, template_id="promo_spring", policy="SMS", subscription_group="promotions"),
         write_csv(tmp_path / "audience.csv", ["+33612340001"]))
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    now = datetime.now(timezone.utc)
    outcomes = [(campaign, "A", "SENT", "SMS"), (campaign, "A", "DELIVERED", "SMS"), (campaign, "B", "SENT", "RCS"),
                (campaign, "B", "SENT", "SMS"), (campaign, "B", "DELIVERED", "SMS"), (campaign, None, "REJECTED", None),
                (f"{campaign}-other", "A", "SENT", "SMS"), (None, None, "DELIVERED", "SMS")]
    for n, (campaign_id, variant, status, channel) in enumerate(outcomes):
        context = {"message_id": str(uuid.uuid4()), "idempotency_key": None, "campaign_id": campaign_id, "variant": variant,
                   "lane": "MARKETING", "subscription_group": "promotions", "requested_at": now, "source": "campaign"}
        output = receipt(context, f"+3361234{n:04d}", status, "test", now, channel=channel)
        producer.produce(settings.topic("receipt"), key=output.key, value=serde.encode("receipt", output.value))
    assert producer.flush(30) == 0

    counted = count_receipts(settings, campaign)
    assert counted.complete and counted.scanned == len(outcomes)
    assert dict(counted.counts) == {("A", "SENT", "SMS"): 1, ("A", "DELIVERED", "SMS"): 1, ("B", "SENT", "RCS"): 1,
                                    ("B", "SENT", "SMS"): 1, ("B", "DELIVERED", "SMS"): 1, (None, "REJECTED", None): 1}

    result = subprocess.run([sys.executable, "-m", "courrier.entry", "campaign", "status", campaign, "--json"],
                            capture_output=True, text=True, timeout=120, env=settings_env(settings))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["state"], shown["template_id"], shown["receipts_complete"]) == ("ACTIVE", "promo_spring", True)
    assert {(r["variant"], r["status"], r["channel"], r["count"]) for r in shown["receipts"]} == {
        ("A", "SENT", "SMS", 1), ("A", "DELIVERED", "SMS", 1), ("B", "SENT", "RCS", 1), ("B", "SENT", "SMS", 1),
        ("B", "DELIVERED", "SMS", 1), (None, "REJECTED", None, 1)}
    unknown = subprocess.run([sys.executable, "-m", "courrier.entry", "campaign", "status", "no-such-campaign"],
                             capture_output=True, text=True, timeout=120, env=settings_env(settings))
    assert unknown.returncode == 2 and "no campaign 'no-such-campaign'" in unknown.stderr and unknown.stderr.count("\n") == 1
