"""Reports read from the real broker: a campaign with no receipts yet gets a page saying so; a transactional range is
read by the requests' time and template, receipts of other lanes, times or templates left out."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from confluent_kafka import Producer

from common.config import Settings
from common.kafka_clients import producer_config
from courrier.processes import settings_env
from processors.analytics import read
from processors.campaigns.logic import control_record
from processors.receipts import receipt
from processors.runtime.publisher import write_now
from processors.runtime.serde import AvroSerde

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def report(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courrier.entry", "report", *args], capture_output=True, text=True, timeout=180,
                          env=settings_env(settings))


def test_a_campaign_without_receipts_gets_a_page_that_says_so(topic_settings: Settings, tmp_path: Path) -> None:
    settings = topic_settings
    campaign = f"quiet-{uuid.uuid4().hex[:6]}"
    write_now(settings, [control_record(campaign, "ACTIVE", NOW, template_id="promo_spring", audience="a.csv",
                                        variants={"A": 1.0, "B": 1.0}, changed_by="test")])
    result = report(settings, "--campaign", campaign, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no receipts yet" in result.stdout
    html = (tmp_path / "report.html").read_text()
    assert "No receipts yet for this campaign" in html and "vegaEmbed" not in html and "A=1, B=1" in html
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["empty"] and summary["about"]["state"] == "ACTIVE" and summary["arms"] == []


def test_a_transactional_range_by_template(topic_settings: Settings) -> None:
    settings = topic_settings
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    # (template, lane, requested minutes before NOW, whose request is on send-requested)
    messages = [("otp", "TRANSACTIONAL", 30, True), ("otp", "TRANSACTIONAL", 20, True), ("order_shipped", "TRANSACTIONAL", 10, True),
                ("otp", "MARKETING", 10, True), ("otp", "TRANSACTIONAL", 180, True), ("otp", "TRANSACTIONAL", 5, False)]
    for n, (template, lane, minutes, requested) in enumerate(messages):
        context = {"message_id": str(uuid.uuid4()), "idempotency_key": None, "campaign_id": None, "variant": None, "lane": lane,
                   "subscription_group": None, "requested_at": NOW - timedelta(minutes=minutes), "source": "test"}
        number = f"+3361234{n:04d}"
        if requested:
            producer.produce(settings.topic("send-requested"), key=number, value=serde.encode("send-requested", {
                "context": context, "recipient": number, "default_region": None, "template_id": template, "variables": {},
                "channel_policy": "SMS", "send_at": None, "validity_seconds": None, "locale": None, "time_zone": None,
                "sms_fallback_after_s": None}))
        for status, after in (("SENT", 1), ("DELIVERED", 3)):
            output = receipt(context, number, status, "receipt", context["requested_at"] + timedelta(seconds=after), channel="SMS",
                             segments=1, cost_micros=45_000, currency="EUR")
            producer.produce(settings.topic("receipt"), key=output.key, value=serde.encode("receipt", output.value))
    assert producer.flush(30) == 0

    since, until = NOW - timedelta(hours=1), NOW
    every = read.transactional(settings, since, until, None, 10_000, 60)
    assert every.complete and every.policies == {}
    arms = {arm.arm: (arm.steps["requested"], arm.steps["delivered"], arm.segments, arm.cost_micros) for arm in every.summary.arms}
    assert arms == {"otp": (2, 2, 2, {"EUR": 90_000}), "order_shipped": (1, 1, 1, {"EUR": 45_000}),
                    read.UNKNOWN_TEMPLATE: (1, 1, 1, {"EUR": 45_000})}
    (latency,) = every.summary.latency
    assert latency.count == 4 and latency.p50 == 3.0

    otp = read.transactional(settings, since, until, "otp", 10_000, 60)
    assert [(arm.arm, arm.steps["requested"]) for arm in otp.summary.arms] == [("otp", 2)]
