"""The receipt stage: SENT from dispatched, the SMPP table, long messages, attribution, keys, cost and schemas."""
from __future__ import annotations

import pytest
from receipt_feeder import Feeder

from common.errors import TransientError
from processors.receipt.logic import UnattributableReport, UnknownMessage
from processors.rules.prices import cost_micros, load_prices
from processors.receipt.statuses import SMPP_STATUS, Normalized, UnknownProviderStatus, aggregate_parts, normalize
from processors.receipts import TERMINAL_STATUSES, receipt_id
from processors.runtime.stage import Output

import schemas


def only(outputs: list[Output]) -> Output:
    receipts = [o for o in outputs if o.topic == "receipt"]
    assert len(receipts) == 1, receipts
    return receipts[0]


def test_stage_contract(feeder: Feeder) -> None:
    assert (feeder.stage.name, feeder.stage.inputs) == ("receipt", ("dispatched", "provider-events", "rcs-deadline"))
    with pytest.raises(ValueError, match="not 'rendered'"):
        feeder.feed("rendered", {})


def test_dispatched_is_a_non_terminal_sent_receipt_and_opens_the_message_state(feeder: Feeder, dispatched_event) -> None:
    event = dispatched_event(parts=3)
    outputs = feeder.feed("dispatched", event)
    assert [(o.topic, o.key) for o in outputs] == [("receipt", "+33612345678"), ("message-state", "m-1")]
    assert outputs[0].value == {
        "context": event["context"], "recipient": "+33612345678", "status": "SENT", "terminal": False, "reason": None,
        "detail": None, "stage": "receipt", "channel": "SMS", "fallback_reason": "rcs_capability_unknown", "segments": 3,
        "cost_micros": 3 * 45000, "currency": "EUR", "provider": "smpp:local", "provider_message_id": "p1",
        "provider_status": None, "occurred_at": event["submitted_at"], "receipt_id": receipt_id("m-1", "SENT", "p1", None),
    }
    state = outputs[1].value
    assert (state["status"], state["terminal"], state["provider_message_ids"], state["segments"]) == ("SENT", False, ["p1", "p2", "p3"], 3)
    assert (state["context"], state["recipient"], state["sender"]) == (event["context"], event["recipient"], event["sender"])
    assert state["applied"] == [{"source": "dispatched:0:0", "statuses": ["SENT"], "fallback": False}] and state["revision"] == 1


def test_cost_per_segment_on_sms_per_message_otherwise() -> None:
    prices = {"currency": "EUR", "SMS": {"FR": 10, "default": 20}, "MMS": {"US": 100}}
    assert cost_micros("SMS", "FR", 3, prices) == 30
    assert cost_micros("SMS", "JP", 2, prices) == 40
    assert cost_micros("MMS", "US", 4, prices) == 100
    assert cost_micros("MMS", "FR", 1, prices) is None
    assert cost_micros("RCS", "FR", 1, prices) is None


def test_without_a_price_there_is_no_currency(dispatched_event, provider_event) -> None:
    feeder = Feeder(prices={"currency": "EUR"})
    feeder.feed("dispatched", dispatched_event())
    feeder.feed("provider-events", provider_event("DELIVRD"))
    assert [(r["cost_micros"], r["currency"]) for r in feeder.receipts] == [(None, None), (None, None)]


def test_shipped_prices_have_a_currency() -> None:
    assert load_prices()["currency"] == "EUR"


@pytest.mark.parametrize(("stat", "status", "terminal", "reason"), [
    ("DELIVRD", "DELIVERED", True, None),
    ("UNDELIV", "UNDELIVERED", True, "undeliverable"),
    ("EXPIRED", "EXPIRED", True, "expired_in_network"),
    ("REJECTD", "REJECTED", True, "rejected_by_network"),
    ("DELETED", "FAILED", True, "deleted_by_smsc"),
    ("UNKNOWN", "FAILED", True, "unknown_final_state"),
    (" delivrd ", "DELIVERED", True, None),
])
def test_smpp_status_table(feeder: Feeder, dispatched_event, provider_event, stat: str, status: str, terminal: bool,
                           reason: str | None) -> None:
    feeder.feed("dispatched", dispatched_event())
    event = provider_event(stat)
    out = only(feeder.feed("provider-events", event))
    assert (out.topic, out.key) == ("receipt", "+33612345678")
    value = out.value
    assert (value["status"], value["terminal"], value["reason"]) == (status, terminal, reason)
    assert value["context"] == event["dispatched"]["context"]
    assert (value["channel"], value["segments"], value["fallback_reason"]) == ("SMS", 1, "rcs_capability_unknown")
    assert (value["provider"], value["provider_message_id"], value["provider_status"]) == ("smpp:local", "p1", stat)
    assert (value["cost_micros"], value["currency"]) == (45000, "EUR")
    assert value["occurred_at"] == event["occurred_at"]
    assert value["detail"] is None


@pytest.mark.parametrize("stat", ["ACCEPTD", "ENROUTE"])
def test_on_the_way_after_sent_tells_nothing_new(feeder: Feeder, dispatched_event, provider_event, stat: str) -> None:
    feeder.feed("dispatched", dispatched_event())
    assert feeder.feed("provider-events", provider_event(stat)) == []
    assert normalize(stat) == Normalized("SENT", "accepted_by_network" if stat == "ACCEPTD" else None)


def test_every_table_status_is_a_receipt_status() -> None:
    symbols = set(schemas.parsed_schema("ReceiptStatus")["symbols"])
    assert {status for status, _reason in SMPP_STATUS.values()} <= symbols
    assert TERMINAL_STATUSES <= symbols


def test_provider_error_code_is_in_the_detail(feeder: Feeder, dispatched_event, provider_event) -> None:
    feeder.feed("dispatched", dispatched_event())
    out = only(feeder.feed("provider-events", provider_event("UNDELIV", error_code="0x0B")))
    assert out.value["detail"] == "provider error 0x0B"


def test_an_unknown_status_is_recorded_not_guessed(feeder: Feeder, dispatched_event, provider_event) -> None:
    feeder.feed("dispatched", dispatched_event())
    with pytest.raises(UnknownProviderStatus, match="'SKIPPED'"):
        normalize("SKIPPED")
    out = only(feeder.feed("provider-events", provider_event("SKIPPED")))
    assert (out.value["status"], out.value["terminal"], out.value["provider_status"]) == ("UNKNOWN", False, "SKIPPED")


def test_read_report_after_delivery(feeder: Feeder, dispatched_event, provider_event) -> None:
    feeder.feed("dispatched", dispatched_event())
    feeder.feed("provider-events", provider_event("DELIVRD"))
    out = only(feeder.feed("provider-events", provider_event("read", kind="READ_REPORT")))
    assert (out.value["status"], out.value["terminal"], out.value["provider_status"]) == ("READ", False, "read")


def test_a_report_naming_no_known_message_is_retried(feeder: Feeder, provider_event) -> None:
    with pytest.raises(UnattributableReport, match="'p1'") as caught:
        feeder.feed("provider-events", provider_event(attributed=False))
    assert isinstance(caught.value, TransientError)  # the last attempt keeps it on unmatched-reports (test_receipt_closing)


def test_a_report_naming_only_its_provider_id_is_attributed_through_the_state(feeder: Feeder, dispatched_event, provider_event) -> None:
    """An SMPP receipt that reached a dispatcher which did not submit the message (it crashed, another bound again)."""
    feeder.feed("dispatched", dispatched_event())
    out = only(feeder.feed("provider-events", provider_event("DELIVRD", attributed=False)))
    assert (out.value["status"], out.value["terminal"]) == ("DELIVERED", True)


def test_a_report_before_its_dispatched_event_is_retried(feeder: Feeder, provider_event) -> None:
    with pytest.raises(UnknownMessage, match="unknown message id 'm-1'") as caught:
        feeder.feed("provider-events", provider_event("DELIVRD"))
    assert isinstance(caught.value, TransientError)


def test_a_part_of_a_long_message_is_never_terminal(feeder: Feeder, dispatched_event, provider_event) -> None:
    feeder.feed("dispatched", dispatched_event(parts=3))
    value = only(feeder.feed("provider-events", provider_event("DELIVRD", parts=3, provider_message_id="p2"))).value
    assert (value["status"], value["terminal"], value["provider_message_id"]) == ("DELIVERED", False, "p2")
    assert (value["detail"], value["segments"]) == ("part 2 of 3", 3)
    failed = only(feeder.feed("provider-events", provider_event("UNDELIV", parts=3, provider_message_id="p3", error_code="001"))).value
    assert (failed["status"], failed["terminal"], failed["detail"]) == ("UNDELIVERED", False, "part 3 of 3; provider error 001")
    whole = only(feeder.feed("provider-events", provider_event("DELIVRD,DELIVRD,UNDELIV", parts=3))).value
    assert (whole["status"], whole["terminal"]) == ("PARTIALLY_DELIVERED", True)
    assert feeder.feed("provider-events", provider_event("DELIVRD", parts=3, provider_message_id="p1")) == []


@pytest.mark.parametrize(("raw_status", "status", "terminal", "reason"), [
    ("DELIVRD,DELIVRD,DELIVRD", "DELIVERED", True, None),
    ("DELIVRD,UNDELIV,DELIVRD", "PARTIALLY_DELIVERED", True, "2_of_3_parts_delivered"),
    ("EXPIRED,UNDELIV,EXPIRED", "EXPIRED", True, "expired_in_network"),
])
def test_a_message_reported_for_all_its_parts(feeder: Feeder, dispatched_event, provider_event, raw_status: str, status: str,
                                              terminal: bool, reason: str | None) -> None:
    feeder.feed("dispatched", dispatched_event(parts=3))
    out = only(feeder.feed("provider-events", provider_event(raw_status, parts=3)))
    assert (out.value["status"], out.value["terminal"], out.value["reason"]) == (status, terminal, reason)
    assert out.value["detail"] is None and out.value["provider_status"] == raw_status


def test_parts_still_on_their_way_are_not_news_after_sent(feeder: Feeder, dispatched_event, provider_event) -> None:
    feeder.feed("dispatched", dispatched_event(parts=3))
    assert feeder.feed("provider-events", provider_event("DELIVRD,ENROUTE,ACCEPTD", parts=3)) == []
    assert aggregate_parts(["DELIVRD", "ENROUTE", "ACCEPTD"]) == Normalized("SENT", "2_of_3_parts_pending")


def test_aggregate_and_normalize_directly() -> None:
    assert normalize("rejectd") == Normalized("REJECTED", "rejected_by_network")
    assert aggregate_parts(["REJECTD", "DELIVRD"]) == Normalized("PARTIALLY_DELIVERED", "1_of_2_parts_delivered")
    with pytest.raises(UnknownProviderStatus):
        aggregate_parts(["DELIVRD", "NOPE"])

