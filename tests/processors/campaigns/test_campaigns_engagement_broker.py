"""`courrier campaign status` with the real broker: clicks per button (unique, repeats, bots) and conversions per
variant and button, each conversion id once."""
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
from processors.campaigns.logic import CampaignSpec
from processors.receipts import receipt
from processors.runtime.serde import AvroSerde
from tests.processors.campaigns.test_campaigns_broker import send, write_csv


def test_status_counts_clicks_per_button_and_conversions(topic_settings: Settings, tmp_path: Path) -> None:
    settings = topic_settings
    campaign = f"engage-{uuid.uuid4().hex[:6]}"
    send(settings, CampaignSpec(campaign_id=campaign, template_id="promo_spring", policy="SMS", subscription_group="promotions"),
         write_csv(tmp_path / "audience.csv", ["+33612340001"]))
    t0 = datetime.now(timezone.utc) - timedelta(hours=1)
    context = {"message_id": "m-e-1", "idempotency_key": None, "campaign_id": campaign, "variant": "A", "lane": "MARKETING",
               "subscription_group": "promotions", "requested_at": t0, "source": "campaign"}

    def click(seconds: float, token: str, bot: bool = False) -> dict:
        when = t0 + timedelta(seconds=seconds)
        return receipt(context, "+33612340001", "CLICKED", "links", when, reason=f"link:{token}", detail="https://x.test",
                       provider_status="preview_bot" if bot else None, event_id=f"click:{token}:{when.isoformat()}").value

    receipts = [receipt(context, "+33612340001", "DELIVERED", "receipt", t0 + timedelta(seconds=5)).value,
                click(5.3, "tokA00000000"), click(40, "tokA00000000"), click(50, "tokA00000000"), click(60, "tokB00000000", bot=True)]
    conversion = {"message_id": "m-e-1", "link_token": "tokA00000000", "event": "purchase", "value_micros": 10_000_000,
                  "currency": "EUR", "occurred_at": t0 + timedelta(minutes=5), "recipient": "+33612340001", "conversion_id": "o-1",
                  "campaign_id": campaign, "variant": "A", "button": "link:tokA00000000"}
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    for value in receipts:
        producer.produce(settings.topic("receipt"), key="+33612340001", value=serde.encode("receipt", value))
    for value in (conversion, conversion, {**conversion, "conversion_id": "o-2", "value_micros": 5_000_000}):  # o-1 written twice
        producer.produce(settings.topic("conversions"), key="m-e-1", value=serde.encode("conversions", value))
    assert producer.flush(30) == 0

    result = subprocess.run([sys.executable, "-m", "courrier.entry", "campaign", "status", campaign, "--json"],
                            capture_output=True, text=True, timeout=120, env=settings_env(settings))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["clicks"] == [
        {"variant": "A", "button": "link:tokA00000000", "unique": 1, "repeats": 1, "bots": 1},  # 0.3 s after delivery: a bot
        {"variant": "A", "button": "link:tokB00000000", "unique": 0, "repeats": 0, "bots": 1}]
    assert shown["conversions"] == [{"variant": "A", "button": "link:tokA00000000", "event": "purchase", "currency": "EUR",
                                     "count": 2, "value_micros": 15_000_000}]
    table = subprocess.run([sys.executable, "-m", "courrier.entry", "campaign", "status", campaign],
                           capture_output=True, text=True, timeout=120, env=settings_env(settings))
    assert table.returncode == 0 and "clicks per button" in table.stdout and "15.00 EUR" in table.stdout
