"""Every message ends, and every receipt can be told apart: receipt ids, SMS/MMS deadlines (UNKNOWN), unknown status
words, and reports no message is found for (kept on unmatched-reports after their last retry)."""
from __future__ import annotations

from typing import Any

import pytest
from fastavro.validation import validate
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from receipt_feeder import Feeder

import schemas
from processors.receipt.logic import UnattributableReport, UnknownMessage
from processors.receipt.stage import REPORT_WAIT
from processors.receipts import receipt_id
from processors.runtime.policy import ATTEMPT, RetryPolicy
from processors.runtime.stage import RecordMeta
from topology.topics import topic

texts = st.text(max_size=12)
parts_or_events = st.none() | texts


@given(a=st.tuples(texts, texts, parts_or_events, parts_or_events), b=st.tuples(texts, texts, parts_or_events, parts_or_events))
def test_distinct_receipts_get_distinct_ids_and_the_same_receipt_the_same_id(a: tuple, b: tuple) -> None:
    assert receipt_id(*a) == receipt_id(*a)
    assert (receipt_id(*a) == receipt_id(*b)) == (a == b)


def test_none_and_empty_are_different_parts() -> None:
    assert receipt_id("m", "SENT", None, None) != receipt_id("m", "SENT", "", None) != receipt_id("m", "SENT", None, "")


def test_a_report_processed_again_gives_its_receipt_the_same_id(dispatched_event, provider_event) -> None:
    """After a crash the same input is processed by a fresh instance: the copy is recognizable by its id."""
    first, second = Feeder(), Feeder()
    for feeder in (first, second):
        feeder.feed("dispatched", dispatched_event(), offset=0)
        feeder.feed("provider-events", provider_event("DELIVRD"), offset=1)
    assert [r["receipt_id"] for r in first.receipts] == [r["receipt_id"] for r in second.receipts]
    assert len({r["receipt_id"] for r in first.receipts}) == 2


def test_parts_and_events_name_different_receipts(feeder: Feeder, dispatched_event, provider_event) -> None:
    feeder.feed("dispatched", dispatched_event(parts=2))
    feeder.feed("provider-events", provider_event("DELIVRD", parts=2, provider_message_id="p1"))
    feeder.feed("provider-events", provider_event("DELIVRD", parts=2, provider_message_id="p2"))
    feeder.feed("provider-events", provider_event("SKIPPED", parts=2, raw="id:p1 ... stat:SKIPPED (first)"))
    feeder.feed("provider-events", provider_event("SKIPPED", parts=2, raw="id:p1 ... stat:SKIPPED (second)"))
    assert [r["status"] for r in feeder.receipts] == ["SENT", "DELIVERED", "DELIVERED", "UNKNOWN", "UNKNOWN"]
    assert len({r["receipt_id"] for r in feeder.receipts}) == 5


def sms_deadline(**overrides: Any) -> dict[str, Any]:
    return {"message_id": "m-1", "provider": "smpp:local", "provider_message_ids": ["p1"], "due_at": Feeder.NOW, **overrides}


@pytest.mark.parametrize("channel", ["SMS", "MMS"])
def test_an_sms_or_mms_without_a_report_by_its_deadline_ends_unknown_once(feeder: Feeder, dispatched_event, channel: str) -> None:
    feeder.feed("dispatched", dispatched_event(channel=channel))
    [closed] = feeder.receipts_of(feeder.feed("rcs-deadline", sms_deadline(), offset=10))
    assert (closed["status"], closed["terminal"], closed["reason"], closed["channel"], closed["provider_message_id"]) == (
        "UNKNOWN", True, "no_delivery_report", channel, "p1")
    assert closed["occurred_at"] == Feeder.NOW and "smpp:local sent no delivery report" in closed["detail"]
    assert feeder.written[-1]["status"] == "UNKNOWN" and feeder.written[-1]["terminal"]
    assert feeder.feed("rcs-deadline", sms_deadline()) == [], "the scheduler delivered it twice"
    [again] = feeder.receipts_of(feeder.feed("rcs-deadline", sms_deadline(), offset=10))  # the same input read again
    assert again == closed


def test_a_report_after_the_message_was_closed_is_recorded_not_terminal_once(feeder: Feeder, dispatched_event,
                                                                              provider_event) -> None:
    feeder.feed("dispatched", dispatched_event())
    feeder.feed("rcs-deadline", sms_deadline())
    [late] = feeder.receipts_of(feeder.feed("provider-events", provider_event("DELIVRD")))
    assert (late["status"], late["terminal"], late["provider_status"]) == ("DELIVERED", False, "DELIVRD")
    assert "after the message was closed UNKNOWN" in late["detail"]
    assert feeder.feed("provider-events", provider_event("DELIVRD")) == []  # the SMSC sent it twice
    assert feeder.feed("provider-events", provider_event("UNDELIV")) == []  # no going back either
    [read] = feeder.receipts_of(feeder.feed("provider-events", provider_event("READ", kind="READ_REPORT")))
    assert (read["status"], read["terminal"]) == ("READ", False)
    assert [r["status"] for r in feeder.receipts if r["terminal"]] == ["UNKNOWN"]
    assert feeder.written[-1]["status"] == "UNKNOWN"


def test_a_deadline_after_the_outcome_or_of_an_older_attempt_does_nothing(feeder: Feeder, dispatched_event,
                                                                           provider_event) -> None:
    feeder.feed("dispatched", dispatched_event())
    never_announced = sms_deadline(provider_message_ids=["older"], due_at=Feeder.NOW - REPORT_WAIT)
    assert feeder.feed("rcs-deadline", never_announced) == []  # waited its time for an attempt never announced
    feeder.feed("provider-events", provider_event("UNDELIV"))
    assert feeder.feed("rcs-deadline", sms_deadline()) == []
    assert [r["status"] for r in feeder.receipts if r["terminal"]] == ["UNDELIVERED"]


def test_a_deadline_that_overtakes_its_attempts_dispatched_event_waits_for_it(feeder: Feeder, dispatched_event) -> None:
    """Under a backlog the SMS fallback's deadline can come before its dispatched event: retried until that arrives, or
    ``REPORT_WAIT`` past the deadline, never dropped while the message is still open (it would never end)."""
    feeder.feed("dispatched", dispatched_event(channel="RCS", provider="http:sim", provider_message_ids=["m-1"], fallback_reason=None))
    early = sms_deadline(provider="http:sim", provider_message_ids=["agg-7"])
    with pytest.raises(UnknownMessage) as raised:
        feeder.feed("rcs-deadline", early)
    assert raised.value.retry_until == Feeder.NOW + REPORT_WAIT
    feeder.feed("dispatched", dispatched_event(provider="http:sim", provider_message_ids=["agg-7"], fallback_reason="rcs_expired"))
    [closed] = feeder.receipts_of(feeder.feed("rcs-deadline", early, offset=20))
    assert (closed["status"], closed["terminal"], closed["channel"]) == ("UNKNOWN", True, "SMS")


def test_the_sms_fallback_of_an_rcs_message_ends_unknown_too(feeder: Feeder, dispatched_event, http_report) -> None:
    feeder.feed("dispatched", dispatched_event(channel="RCS", provider="http:sim", provider_message_ids=["m-1"], fallback_reason=None))
    feeder.feed("dispatched", dispatched_event(provider="http:sim", provider_message_ids=["agg-7"], fallback_reason="rcs_expired"))
    [closed] = feeder.receipts_of(feeder.feed("rcs-deadline", sms_deadline(provider="http:sim", provider_message_ids=["agg-7"])))
    assert (closed["status"], closed["terminal"], closed["channel"]) == ("UNKNOWN", True, "SMS")
    [late_rcs] = feeder.receipts_of(feeder.feed("provider-events", http_report("DELIVERED", provider_message_id="m-1")))
    assert (late_rcs["channel"], late_rcs["terminal"]) == ("RCS", False) and "replaced" in late_rcs["detail"]


@pytest.mark.parametrize("raw_status", ["SKIPPED", "DELIVRD,SKIPPED"])
def test_an_unknown_status_word_is_recorded_keeps_the_word_and_does_not_end_the_message(
        feeder: Feeder, dispatched_event, provider_event, raw_status: str) -> None:
    feeder.feed("dispatched", dispatched_event(parts=len(raw_status.split(","))))
    written = len(feeder.written)
    [unknown] = feeder.receipts_of(feeder.feed("provider-events", provider_event(raw_status, parts=len(raw_status.split(",")))))
    assert (unknown["status"], unknown["terminal"], unknown["reason"], unknown["provider_status"]) == (
        "UNKNOWN", False, "unknown_provider_status", raw_status)
    assert "does not end the message" in unknown["detail"] and len(feeder.written) == written, "the state is not touched"
    [delivered] = feeder.receipts_of(feeder.feed("provider-events", provider_event("DELIVRD,DELIVRD" if "," in raw_status else "DELIVRD",
                                                                                  parts=len(raw_status.split(",")))))
    assert (delivered["status"], delivered["terminal"]) == ("DELIVERED", True)


def test_an_unknown_status_word_after_the_outcome_is_still_recorded_not_terminal(feeder: Feeder, dispatched_event,
                                                                                  http_report) -> None:
    feeder.feed("dispatched", dispatched_event(provider="http:sim"))
    feeder.feed("provider-events", http_report("DELIVERED"))
    [unknown] = feeder.receipts_of(feeder.feed("provider-events", http_report("BOUNCED_LATER")))
    assert (unknown["status"], unknown["terminal"], unknown["provider_status"]) == ("UNKNOWN", False, "BOUNCED_LATER")
    assert [r["status"] for r in feeder.receipts if r["terminal"]] == ["DELIVERED"]


def at_attempt(feeder: Feeder, attempt: int | None) -> RecordMeta:
    meta = feeder.meta("provider-events")
    return RecordMeta(meta.topic, meta.partition, meta.offset, meta.key, meta.now,
                      {} if attempt is None else {ATTEMPT: str(attempt).encode(), "traceparent": b"00-abc"})


def unattributed(provider: str) -> float:
    return REGISTRY.get_sample_value("courrier_unattributed_reports_total", {"provider": provider}) or 0.0


@pytest.mark.parametrize(("attributed", "error"), [(False, UnattributableReport), (True, UnknownMessage)])
def test_a_report_no_message_is_found_for_is_retried_then_kept_on_unmatched_reports(
        feeder: Feeder, provider_event, attributed: bool, error: type[Exception]) -> None:
    report = provider_event(attributed=attributed, provider="smpp:unmatched", occurred_at=Feeder.NOW - REPORT_WAIT)
    last = RetryPolicy().max_attempts
    for attempt in (None, 1, last - 1):
        with pytest.raises(error):
            feeder.stage.process(report, at_attempt(feeder, attempt))
    before = unattributed("smpp:unmatched")
    outputs = feeder.stage.process(report, at_attempt(feeder, last))
    assert [(o.topic, o.key, o.value) for o in outputs] == [("unmatched-reports", "p1", report)]
    assert unattributed("smpp:unmatched") == before + 1


def test_a_recent_report_waits_for_its_message_past_the_last_attempt(feeder: Feeder, provider_event) -> None:
    """A stage far behind on ``dispatched`` (restarting, catching up) must not give up on reports after 31 s of retries:
    a report keeps being retried, with capped backoff, until ``REPORT_WAIT`` after it occurred."""
    report = provider_event(attributed=False, provider="smpp:waiting", occurred_at=Feeder.NOW)
    with pytest.raises(UnattributableReport) as raised:
        feeder.stage.process(report, at_attempt(feeder, 3 * RetryPolicy().max_attempts))
    assert raised.value.retry_until == Feeder.NOW + REPORT_WAIT


def test_an_unmatched_report_fits_its_topic_schema(feeder: Feeder, provider_event) -> None:
    stale = provider_event(attributed=False, occurred_at=Feeder.NOW - REPORT_WAIT)
    [kept] = feeder.stage.process(stale, at_attempt(feeder, RetryPolicy().max_attempts))
    assert topic(kept.topic).value_schema == "ProviderEvent" and topic(kept.topic).retention_ms == topic("dead-letter").retention_ms
    assert validate(kept.value, schemas.parsed_schema("ProviderEvent"), raise_errors=True)
