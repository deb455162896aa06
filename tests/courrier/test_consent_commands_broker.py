"""Consent with evidence through the real broker: import → the consent stage suppresses; export shows every change with
its evidence; forget → tombstones written and the number suppressed afterwards; a free-text opt-out listed for review."""
from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from common.config import Settings
from common.kafka_clients import producer_config
from courrier import consent_history, consent_import
from courrier.consent_forget import forget
from courrier.consent_import import ImportRefused, import_file
from courrier.consent_read import read_to_end
from processors.consent.logic import Rules
from processors.consent.stage import ConsentStage
from processors.consent.suppressions import Suppressions, salt, suppression_key
from processors.keywords.book import load
from processors.keywords.logic import handle
from processors.rules.consent import consent_key
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Output, RecordMeta
from processors.runtime.table import TopicTable
from processors.runtime.testing import wait_for_row

IN, OUT = "+33612345678", "+33612345679"
HEADER = "number,subscription_group,status,source,changed_at,text_shown,ip_address,evidence\n"
ROWS = (f"{IN},promotions,opted_in,form,2026-03-01T09:00:00+01:00,\"Yes, offers by SMS\",203.0.113.7,\n"
        f"{OUT},promotions,opted_out,paper,2026-03-01T10:00:00Z,,,letter-2026-17\n")


def request(recipient: str, message_id: str) -> dict[str, Any]:
    context = {"message_id": message_id, "idempotency_key": None, "campaign_id": None, "variant": None, "lane": "MARKETING",
               "subscription_group": "promotions", "requested_at": datetime.now(timezone.utc), "source": "test"}
    return {"context": context, "recipient": recipient, "default_region": None, "template_id": "promo_spring",
            "variables": {}, "channel_policy": "SMS", "send_at": None, "validity_seconds": None, "locale": None, "time_zone": None}


def decide(stage: ConsentStage, recipient: str, message_id: str) -> Output:
    """The consent stage's answer for a marketing message (its message-id claims left out)."""
    outputs = stage.process(request(recipient, message_id), RecordMeta("send-requested", 0, 0, recipient, datetime.now(timezone.utc)))
    return next(o for o in outputs if o.topic != "idempotency")


@pytest.fixture
def tables(topic_settings: Settings) -> Iterator[tuple[TopicTable, TopicTable]]:
    consents, suppressions = TopicTable(topic_settings, "consent"), TopicTable(topic_settings, "suppressions")
    consents.start()
    suppressions.start()
    yield consents, suppressions
    consents.stop()
    suppressions.stop()


def wait(condition: Any, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_bad_row_is_named_and_nothing_is_imported(topic_settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "crm.csv"
    bad.write_text(HEADER + ROWS + f"{IN},promotions,opted_in,form,2026-03-01T09:00:00Z,,,\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match=r"1 problem\(s\), nothing imported:\n  row 4: an opt-in needs text_shown"):
        import_file(topic_settings, bad, "csv")
    assert list(read_to_end(topic_settings, topic_settings.topic("consent-history"), 10)) == []


def test_an_import_stopped_half_way_leaves_nothing(topic_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crm = tmp_path / "crm.csv"
    crm.write_text(HEADER + ROWS, encoding="utf-8")
    written: list[str] = []
    real_change = consent_import.change

    def interrupted(record: Any, recorded_by: str | None) -> dict[str, Any]:
        if written:  # Ctrl-C once the first row's records are produced
            raise KeyboardInterrupt
        written.append(record.number)
        return real_change(record, recorded_by)

    monkeypatch.setattr(consent_import, "change", interrupted)
    with pytest.raises(ImportRefused, match="did not commit.*nothing imported"):
        import_file(topic_settings, crm, "csv")
    assert written == [IN]
    assert list(read_to_end(topic_settings, topic_settings.topic("consent-history"), 10)) == []  # aborted: never read


def test_import_then_export_then_forget(topic_settings: Settings, tables: tuple[TopicTable, TopicTable], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    consents, suppressions = tables
    crm = tmp_path / "crm.csv"
    crm.write_text(HEADER + ROWS, encoding="utf-8")
    assert import_file(topic_settings, crm, "csv") == 2
    assert wait_for_row(consents, consent_key(OUT, "promotions"), 20) is not None
    assert wait_for_row(consents, consent_key(IN, "promotions"), 20) is not None
    stage = ConsentStage(consents, rules=Rules(quiet_hours=None), suppressions=Suppressions(suppressions, salt(topic_settings)))
    assert decide(stage, IN, "m-in").topic == "consent-checked"
    refused = decide(stage, OUT, "m-out")
    assert (refused.topic, refused.value["status"], refused.value["reason"]) == ("receipt", "SUPPRESSED", "opted_out")

    # The auditor's copy: every change of the number, with its evidence, in full.
    monkeypatch.setattr(consent_history, "get_settings", lambda: topic_settings)
    monkeypatch.setattr("courrier.consent_export.get_settings", lambda: topic_settings)
    out = tmp_path / "audit.csv"
    answer = CliRunner().invoke(consent_history.app, ["export", IN, "--out", str(out)])
    assert answer.exit_code == 0, answer.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["e164"], r["status"], r["source"], r["text_shown"], r["ip_address"], r["recorded_by"]) for r in rows] == [
        (IN, "OPTED_IN", "form", "Yes, offers by SMS", "203.0.113.7", "import:crm.csv")]
    assert rows[0]["changed_at"] == "2026-03-01T08:00:00+00:00"
    group = CliRunner().invoke(consent_history.app, ["export", "--group", "promotions", "--format", "json"])
    assert group.exit_code == 0, group.output
    assert [(r["e164"], r["evidence"]) for r in json.loads(group.output)] == [(IN, None), (OUT, "letter-2026-17")]

    erased = forget(topic_settings, IN, "ticket-42")
    assert erased.tombstones == {"consent": [consent_key(IN, "promotions")], "frequency": []}
    assert wait(lambda: consents.get(consent_key(IN, "promotions")) is None)
    records = [(k.decode(), v) for k, v in read_to_end(topic_settings, topic_settings.topic("consent"), 10) if k is not None]
    assert (consent_key(IN, "promotions"), None) in records  # the tombstone
    assert erased.suppression == suppression_key(salt(topic_settings), IN)
    assert wait_for_row(suppressions, erased.suppression, 20) is not None
    gone = decide(stage, IN, "m-in-2")
    assert (gone.topic, gone.value["status"], gone.value["reason"]) == ("receipt", "SUPPRESSED", "erased_on_request")
    [(key, value)] = list(read_to_end(topic_settings, topic_settings.topic("suppressions"), 10))
    assert IN.encode() not in (key or b"") + (value or b"")  # only the hash: the number is kept nowhere


def test_a_free_text_opt_out_is_honoured_and_listed_for_review(topic_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    serde = AvroSerde(topic_settings.registry_url, topic_settings.topic)
    producer = Producer(producer_config(topic_settings))
    inbound = {"from_e164": IN, "to_sender_id": "36180", "text": "Arrêtez !", "media_urls": [], "provider": "smpp",
               "provider_message_id": "MO-1", "received_at": datetime.now(timezone.utc)}
    for output in handle(inbound, load()):
        if output.topic in ("consent", "consent-history"):
            assert output.value["status"] == "OPTED_OUT" and output.value["needs_review"]
            producer.produce(topic_settings.topic(output.topic), key=output.key, value=serde.encode(output.topic, output.value))
    producer.flush(30)
    monkeypatch.setattr("courrier.consent_review.get_settings", lambda: topic_settings)
    answer = CliRunner().invoke(consent_history.app, ["review", "--json"])
    assert answer.exit_code == 0, answer.output
    listed = json.loads(answer.output)
    assert {(r["e164"], r["subscription_group"], r["inbound_message_id"]) for r in listed} == {
        (IN, "promotions", "MO-1"), (IN, "newsletter", "MO-1")}
    assert all(r["evidence"]["text"] == "Arrêtez !" and r["evidence"]["matched"] == "arretez" for r in listed)


def test_the_forget_command_says_what_it_erased_and_what_stays(topic_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("courrier.consent_forget.get_settings", lambda: topic_settings)
    answer = CliRunner().invoke(consent_history.app, ["forget", "+46701234567", "--by", "ticket-7"])
    assert answer.exit_code == 0, answer.output
    assert "+4670****67 erased: tombstones consent: 0, frequency: 0; suppression entry written" in answer.output
    assert "kept until their retention ends: forever: consent-history" in answer.output
    assert "COURRIER_SUPPRESSION_SALT is unset" in answer.output  # the built-in salt is said out loud
    [(_key, value)] = list(read_to_end(topic_settings, topic_settings.topic("suppressions"), 10))
    assert b"ticket-7" in (value or b"")
