"""``courrier consent history``: every change of a number, oldest first, from consent-history merged with consent."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from common.config import Settings
from common.kafka_clients import producer_config
from courrier import consent_history
from courrier.consent_history import app, as_json, history, read_changes
from processors.runtime.serde import AvroSerde

E164 = "+33612345678"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def change(group: str, status: str, minutes: int, source: str = "keyword", e164: str = E164,
           evidence: str | None = None) -> dict[str, Any]:
    return {"e164": e164, "subscription_group": group, "status": status, "basis": "MARKETING", "source": source,
            "evidence": evidence, "changed_at": T0 + timedelta(minutes=minutes), "text_shown": None, "ip_address": None,
            "inbound_message_id": None, "recorded_by": None, "needs_review": False}


def test_history_filters_orders_and_shows_each_change_once() -> None:
    later = change("promotions", "OPTED_OUT", 5)
    earlier = change("promotions", "OPTED_IN", 1, source="form")
    other_group = change("newsletter", "OPTED_IN", 3)
    changes = [later, other_group, earlier, dict(later), change("promotions", "OPTED_IN", 0, e164="+46701234567")]
    assert history(changes, E164) == [earlier, other_group, later]
    assert history(changes, E164, "promotions") == [earlier, later]
    assert history(changes, "+15555550100") == []


def test_json_rows_parse_keyword_evidence_and_keep_free_text() -> None:
    keyword = as_json(change("promotions", "OPTED_OUT", 5, evidence=json.dumps({"text": "STOP", "fuzzy": False})))
    assert keyword["evidence"] == {"text": "STOP", "fuzzy": False} and keyword["changed_at"] == "2026-03-01T08:05:00+00:00"
    assert as_json(change("promotions", "OPTED_IN", 1, source="import", evidence="crm-2026-02.csv"))["evidence"] == "crm-2026-02.csv"


def test_the_command_reads_both_topics_through_the_broker(topic_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    serde = AvroSerde(topic_settings.registry_url, topic_settings.topic)
    producer = Producer(producer_config(topic_settings))

    def publish(logical: str, key: str, value: dict[str, Any]) -> None:
        producer.produce(topic_settings.topic(logical), key=key, value=serde.encode(logical, value))

    imported = change("promotions", "OPTED_IN", 0, source="import", evidence="crm.csv")
    stop = change("promotions", "OPTED_OUT", 10, evidence=json.dumps({"text": "Stop", "fuzzy": False}))
    start = change("newsletter", "OPTED_IN", 20)
    publish("consent", f"{E164}|promotions", imported)  # written by an import that does not write the history
    for value in (stop, start):
        publish("consent-history", E164, value)
        publish("consent", f"{E164}|{value['subscription_group']}", value)
    publish("consent-history", "+46701234567", change("promotions", "OPTED_OUT", 1, e164="+46701234567"))
    producer.flush(30)

    assert history(read_changes(topic_settings, E164), E164) == [imported, stop, start]
    monkeypatch.setattr(consent_history, "get_settings", lambda: topic_settings)
    runner = CliRunner()
    answer = runner.invoke(app, ["history", "+33 6 12 34 56 78", "--group", "promotions", "--json"])
    assert answer.exit_code == 0, answer.output
    rows = json.loads(answer.output)
    assert [(r["status"], r["source"], r["evidence"]) for r in rows] == [
        ("OPTED_IN", "import", "crm.csv"), ("OPTED_OUT", "keyword", {"text": "Stop", "fuzzy": False})]
    table = runner.invoke(app, ["history", E164])
    assert table.exit_code == 0 and table.output.count("OPTED_") == 3 and "newsletter" in table.output
    nothing = runner.invoke(app, ["history", "+15555550100"])
    assert nothing.exit_code == 0 and "no consent change recorded for +15555550100" in nothing.output
