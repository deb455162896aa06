"""The receipt stage: SENT from dispatched, the status table, long messages, attribution, keys and schemas."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from processors.receipt.logic import (SMPP_STATUS, Normalized, UnattributableReport, UnknownProviderStatus,
                                      aggregate_parts, cost_micros, load_prices, normalize_stat)
from processors.receipt.stage import ReceiptStage
from processors.receipts import TERMINAL_STATUSES
from processors.runtime.stage import Output, RecordMeta

import schemas

NOW = datetime(2026, 3, 2, 9, 5, tzinfo=timezone.utc)
STAGE = ReceiptStage()


def meta(topic: str) -> RecordMeta:
    return RecordMeta(topic=topic, partition=0, offset=0, key="k", now=NOW)


def only(outputs: list[Output]) -> Output:
    assert len(outputs) == 1
    return outputs[0]


def test_stage_contract() -> None:
    assert (STAGE.name, STAGE.inputs) == ("receipt", ("dispatched", "provider-events"))
    with pytest.raises(ValueError, match="not 'rendered'"):
        STAGE.process({}, meta("rendered"))


def test_dispatched_is_a_non_terminal_sent_receipt(dispatched_event, assert_valid) -> None:
    event = dispatched_event(parts=3)
    out = only(STAGE.process(event, meta("dispatched")))
    assert_valid(out)
    assert (out.topic, out.key) == ("receipt", "+33612345678")
    assert out.value == {
        "context": event["context"], "recipient": "+33612345678", "status": "SENT", "terminal": False, "reason": None,
        "detail": None, "stage": "receipt", "channel": "SMS", "fallback_reason": "rcs_capability_unknown", "segments": 3,
        "cost_micros": 3 * 45000, "currency": "EUR", "provider": "smpp:local", "provider_message_id": "p1",
        "provider_status": None, "occurred_at": event["submitted_at"],
    }


def test_cost_per_segment_on_sms_per_message_otherwise() -> None:
    prices = {"currency": "EUR", "SMS": {"FR": 10, "default": 20}, "MMS": {"US": 100}}
    assert cost_micros("SMS", "FR", 3, prices) == 30
    assert cost_micros("SMS", "JP", 2, prices) == 40
    assert cost_micros("MMS", "US", 4, prices) == 100
    assert cost_micros("MMS", "FR", 1, prices) is None
    assert cost_micros("RCS", "FR", 1, prices) is None


def test_without_a_price_there_is_no_currency(dispatched_event) -> None:
    out = only(ReceiptStage({"currency": "EUR"}).process(dispatched_event(), meta("dispatched")))
    assert (out.value["cost_micros"], out.value["currency"]) == (None, None)


def test_shipped_prices_have_a_currency() -> None:
    assert load_prices()["currency"] == "EUR"


@pytest.mark.parametrize(("stat", "status", "terminal", "reason"), [
    ("DELIVRD", "DELIVERED", True, None),
    ("UNDELIV", "UNDELIVERED", True, "undeliverable"),
    ("EXPIRED", "EXPIRED", True, "expired_in_network"),
    ("REJECTD", "REJECTED", True, "rejected_by_network"),
    ("DELETED", "FAILED", True, "deleted_by_smsc"),
    ("UNKNOWN", "FAILED", True, "unknown_final_state"),
    ("ACCEPTD", "SENT", False, "accepted_by_network"),
    ("ENROUTE", "SENT", False, None),
    (" delivrd ", "DELIVERED", True, None),
])
def test_smpp_status_table(provider_event, assert_valid, stat: str, status: str, terminal: bool, reason: str | None) -> None:
    event = provider_event(stat)
    out = only(STAGE.process(event, meta("provider-events")))
    assert_valid(out)
    assert (out.topic, out.key) == ("receipt", "+33612345678")
    value = out.value
    assert (value["status"], value["terminal"], value["reason"]) == (status, terminal, reason)
    assert value["context"] == event["dispatched"]["context"]
    assert (value["channel"], value["segments"], value["fallback_reason"]) == ("SMS", 1, "rcs_capability_unknown")
    assert (value["provider"], value["provider_message_id"], value["provider_status"]) == ("smpp:local", "p1", stat)
    assert value["occurred_at"] == event["occurred_at"]
    assert value["detail"] is None and value["cost_micros"] is None


def test_every_table_status_is_a_receipt_status() -> None:
    symbols = set(schemas.parsed_schema("ReceiptStatus")["symbols"])
    assert {status for status, _reason in SMPP_STATUS.values()} <= symbols
    assert TERMINAL_STATUSES <= symbols


def test_provider_error_code_is_in_the_detail(provider_event) -> None:
    out = only(STAGE.process(provider_event("UNDELIV", error_code="0x0B"), meta("provider-events")))
    assert out.value["detail"] == "provider error 0x0B"


def test_unknown_status_is_dead_lettered_not_guessed(provider_event) -> None:
    with pytest.raises(UnknownProviderStatus, match="'SKIPPED'"):
        STAGE.process(provider_event("SKIPPED"), meta("provider-events"))
    assert issubclass(UnknownProviderStatus, ValueError)


def test_read_report(provider_event, assert_valid) -> None:
    out = only(STAGE.process(provider_event("read", kind="READ_REPORT"), meta("provider-events")))
    assert_valid(out)
    assert (out.value["status"], out.value["terminal"], out.value["provider_status"]) == ("READ", False, "read")


def test_unattributable_report_is_dead_lettered(provider_event) -> None:
    with pytest.raises(UnattributableReport, match="'p1'") as caught:
        STAGE.process(provider_event(attributed=False), meta("provider-events"))
    assert isinstance(caught.value, ValueError)


def test_a_part_of_a_long_message_is_never_terminal(provider_event, assert_valid) -> None:
    event = provider_event("DELIVRD", parts=3, provider_message_id="p2")
    out = only(STAGE.process(event, meta("provider-events")))
    assert_valid(out)
    value = out.value
    assert (value["status"], value["terminal"], value["provider_message_id"]) == ("DELIVERED", False, "p2")
    assert (value["detail"], value["segments"]) == ("part 2 of 3", 3)
    failed = only(STAGE.process(provider_event("UNDELIV", parts=3, provider_message_id="p3", error_code="001"), meta("provider-events")))
    assert (failed.value["status"], failed.value["terminal"], failed.value["detail"]) == ("UNDELIVERED", False, "part 3 of 3; provider error 001")


@pytest.mark.parametrize(("raw_status", "status", "terminal", "reason"), [
    ("DELIVRD,DELIVRD,DELIVRD", "DELIVERED", True, None),
    ("DELIVRD,UNDELIV,DELIVRD", "PARTIALLY_DELIVERED", True, "2_of_3_parts_delivered"),
    ("EXPIRED,UNDELIV,EXPIRED", "EXPIRED", True, "expired_in_network"),
    ("DELIVRD,ENROUTE,ACCEPTD", "SENT", False, "2_of_3_parts_pending"),
])
def test_a_message_reported_for_all_its_parts(provider_event, assert_valid, raw_status: str, status: str, terminal: bool,
                                              reason: str | None) -> None:
    out = only(STAGE.process(provider_event(raw_status, parts=3), meta("provider-events")))
    assert_valid(out)
    assert (out.value["status"], out.value["terminal"], out.value["reason"]) == (status, terminal, reason)
    assert out.value["detail"] is None and out.value["provider_status"] == raw_status


def test_aggregate_and_normalize_directly() -> None:
    assert normalize_stat("rejectd") == Normalized("REJECTED", "rejected_by_network")
    assert aggregate_parts(["REJECTD", "DELIVRD"]) == Normalized("PARTIALLY_DELIVERED", "1_of_2_parts_delivered")
    with pytest.raises(UnknownProviderStatus):
        aggregate_parts(["DELIVRD", "NOPE"])
