"""The consent stage with a fraud guard: SMS pumping suspects are SUPPRESSED (fraud_suspected), counted in the metric;
conversions are heard; without a guard nothing changes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from fastavro.validation import validate
from prometheus_client import REGISTRY

import schemas
from processors.consent.fraud import FraudGuard, guard_from_settings
from processors.consent.stage import ConsentStage
from processors.rules.fraud import Thresholds
from processors.runtime.stage import RecordMeta

NOW = datetime(2026, 3, 2, 9, 0, 30, tzinfo=timezone.utc)


def meta(topic: str = "send-requested", at: datetime = NOW, key: str | None = None) -> RecordMeta:
    return RecordMeta(topic, 0, 0, key, at)


def suppressed_count(country: str) -> float:
    return REGISTRY.get_sample_value("courrier_fraud_suppressed_total", {"country": country}) or 0.0


def send(stage: ConsentStage, request_event: Callable[..., dict[str, Any]], number: str, i: int, **fields: Any) -> list[Any]:
    event = request_event(recipient=number, **fields)
    event["context"]["message_id"] = f"m-{number}-{i}"
    outputs = stage.process(event, meta(at=NOW + timedelta(milliseconds=10 * i), key=number))
    return [o for o in outputs if o.topic != "idempotency"]  # its message-id claim (test_consent_message_ids)


def test_a_burst_to_one_premium_prefix_is_suppressed_while_other_numbers_pass(request_event: Callable[..., dict[str, Any]]) -> None:
    stage = ConsentStage({}, {}, fraud=FraudGuard(Thresholds(prefix_floor=5)))
    assert stage.inputs == ("send-requested", "conversions")
    before = suppressed_count("GB")
    outcomes = [send(stage, request_event, f"+4474001{i:05d}", i) for i in range(12)]
    topics = [[o.topic for o in outputs] for outputs in outcomes]
    assert topics[:5] == [["consent-checked"]] * 5
    assert topics[5:] == [["receipt"]] * 7
    suppressed = outcomes[5][0].value
    assert (suppressed["status"], suppressed["reason"], suppressed["terminal"]) == ("SUPPRESSED", "fraud_suspected", True)
    assert "+4474001… within 60 s" in suppressed["detail"]
    validate(suppressed, schemas.parsed_schema("Receipt"), raise_errors=True)
    assert suppressed_count("GB") - before == 7
    others = [send(stage, request_event, f"+336{i:02d}345678", 100 + i) for i in range(10)]
    assert all([o.topic for o in outputs] == ["consent-checked"] for outputs in others)


def test_marketing_is_not_judged_by_default(request_event: Callable[..., dict[str, Any]]) -> None:
    group = "promotions"
    consents = {}
    for i in range(8):
        consents[f"+4474001{i:05d}|{group}"] = {"status": "OPTED_IN", "source": "test", "changed_at": NOW}
    stage = ConsentStage(consents, {}, fraud=FraudGuard(Thresholds(prefix_floor=2)))
    outcomes = [send(stage, request_event, f"+4474001{i:05d}", i, lane="MARKETING", subscription_group=group) for i in range(8)]
    assert all("consent-checked" in [o.topic for o in outputs] for outputs in outcomes)


def test_conversions_are_heard_and_produce_nothing(request_event: Callable[..., dict[str, Any]]) -> None:
    guard = FraudGuard(Thresholds(prefix_floor=40, conversion_min_sends=5, conversion_floor=0.5, poor_conversion_factor=0.1))
    stage = ConsentStage({}, {}, fraud=guard)
    for i in range(10):
        send(stage, request_event, f"+4474001{i:05d}", i)
    conversion = {"message_id": "m-x", "link_token": None, "event": "otp_verified", "value_micros": None, "currency": None,
                  "occurred_at": NOW, "recipient": "+46701234567"}
    validate(conversion, schemas.parsed_schema("Conversion"), raise_errors=True)
    assert stage.process(conversion, meta("conversions")) == []
    assert stage.process({**conversion, "recipient": "not a number"}, meta("conversions")) == []
    limit, ratio = guard.detector.prefix_limit("+4474001", NOW.timestamp() + 1)
    assert (limit, ratio) == (4.0, 0.0)  # this range converts at 0 % while the caller reports conversions elsewhere


def test_without_a_guard_the_stage_reads_send_requested_only() -> None:
    assert ConsentStage({}).inputs == ("send-requested",)


def test_the_guard_is_built_only_when_the_settings_turn_it_on(tmp_path: Any) -> None:
    from common.config import Settings

    assert guard_from_settings(Settings(fraud_guard=False)) is None
    thresholds = tmp_path / "fraud.toml"
    thresholds.write_text("prefix_floor = 3\n")
    guard = guard_from_settings(Settings(fraud_guard=True, fraud_file=thresholds))
    assert guard is not None and guard.detector.thresholds.prefix_floor == 3


def test_the_catalog_builds_consent_with_the_guard_the_settings_ask_for() -> None:
    from common.config import Settings
    from processors.catalog import BUILDERS

    assert BUILDERS["consent"](Settings())[0].inputs == ("send-requested",)
    assert BUILDERS["consent"](Settings(fraud_guard=True))[0].inputs == ("send-requested", "conversions")
