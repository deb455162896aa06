"""RCS with SMS fallback at the receipt stage: the SMS goes once, when the RCS attempt fails or its time runs out;
the message keeps exactly one terminal receipt; a late RCS report is recorded without sending anything again."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receipt_feeder import Feeder

from processors.fallback import SUFFIX
from processors.receipt.stage import REPORT_WAIT

SMS_SENDER = {"sender_id": "COURRIER", "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": 10.0}
AGENT = {"sender_id": "courrier-agent", "type": "RCS_AGENT", "country": "FR", "segments_per_second": 10.0}


@pytest.fixture
def rcs_dispatched(dispatched_event) -> Callable[..., dict[str, Any]]:
    """The ``dispatched`` event of an RCS attempt (RBM's id is the message id) carrying its prepared SMS fallback."""
    def build(**overrides: Any) -> dict[str, Any]:
        base = dispatched_event()
        fallback = {
            "context": base["context"], "recipient": base["recipient"], "channel": "SMS", "fallback_reason": None,
            "sender": SMS_SENDER, "template_id": "promo",
            "sms": {"text": "Spring sale: 20% off", "encoding": "GSM7", "segments": 1, "units": 20},
            "rcs_json": None, "media_urls": [], "expires_at": None, "sms_fallback": None, "attempt": 2,
        }
        fields = {"channel": "RCS", "fallback_reason": None, "sender": AGENT, "provider": "http:sim", "provider_message_ids": ["m-1"],
                  "fallback": fallback, "rcs_deadline_at": base["submitted_at"] + timedelta(seconds=300), **overrides}
        return dispatched_event(**fields)
    return build


@pytest.fixture
def sms_dispatched(dispatched_event) -> Callable[[], dict[str, Any]]:
    """The ``dispatched`` event of the SMS fallback through the aggregator (its own provider id)."""
    return lambda: dispatched_event(channel="SMS", fallback_reason="rcs_not_delivered_in_time", provider="http:sim",
                                    provider_message_ids=["agg-7"])


def deadline(**overrides: Any) -> dict[str, Any]:
    return {"message_id": "m-1", "provider": "http:sim", "provider_message_ids": ["m-1"], "due_at": Feeder.NOW, **overrides}


def rcs_report(http_report, status: str, **overrides: Any) -> dict[str, Any]:
    return http_report(status, provider_message_id="m-1", **overrides)


def sms_report(http_report, status: str) -> dict[str, Any]:
    return http_report(status, provider_message_id="agg-7", message_id="m-1" + SUFFIX)


def terminal(feeder: Feeder) -> list[tuple[str, str]]:
    return [(r["status"], r["channel"]) for r in feeder.receipts if r["terminal"]]


def test_time_running_out_sends_the_sms_once_and_writes_no_receipt(feeder: Feeder, rcs_dispatched) -> None:
    feeder.feed("dispatched", rcs_dispatched())
    outputs = feeder.feed("rcs-deadline", deadline())
    assert [o.topic for o in outputs] == ["rendered", "message-state"]
    [sent] = feeder.fallbacks
    assert (sent.key, sent.value["channel"], sent.value["attempt"], sent.value["sender"]) == ("COURRIER", "SMS", 2, SMS_SENDER)
    assert sent.value["fallback_reason"] == "rcs_not_delivered_in_time"
    assert [r["status"] for r in feeder.receipts] == ["SENT"]
    feeder.feed("rcs-deadline", deadline())  # the scheduler delivered it twice
    assert len(feeder.fallbacks) == 1


def test_a_transactional_fallback_takes_the_transactional_lane(feeder: Feeder, rcs_dispatched) -> None:
    event = rcs_dispatched()
    for part in (event["context"], event["fallback"]["context"]):
        part.update(lane="TRANSACTIONAL", campaign_id=None, subscription_group=None)
    feeder.feed("dispatched", event)
    feeder.feed("rcs-deadline", deadline())
    assert [o.topic for o in feeder.fallbacks] == ["rendered-transactional"]


def test_an_undelivered_rcs_report_falls_back_at_once_with_a_receipt_that_is_not_terminal(feeder: Feeder, rcs_dispatched,
                                                                                       http_report) -> None:
    feeder.feed("dispatched", rcs_dispatched())
    feeder.feed("provider-events", rcs_report(http_report, "UNDELIVERED", error_code="30003"))
    undelivered = feeder.receipts[-1]
    assert (undelivered["status"], undelivered["terminal"], undelivered["channel"]) == ("UNDELIVERED", False, "RCS")
    assert "the SMS fallback is on its way" in undelivered["detail"]
    assert [o.value["fallback_reason"] for o in feeder.fallbacks] == ["rcs_undelivered"]
    feeder.feed("rcs-deadline", deadline())
    assert len(feeder.fallbacks) == 1


def test_the_sms_attempt_decides_the_outcome_and_a_late_rcs_delivery_is_recorded_not_terminal(
        feeder: Feeder, rcs_dispatched, sms_dispatched, http_report) -> None:
    feeder.feed("dispatched", rcs_dispatched())
    feeder.feed("rcs-deadline", deadline())
    feeder.feed("dispatched", sms_dispatched())
    feeder.feed("provider-events", sms_report(http_report, "DELIVERED"))
    feeder.feed("provider-events", rcs_report(http_report, "DELIVERED"))
    feeder.feed("provider-events", rcs_report(http_report, "READ", kind="READ_REPORT"))
    feeder.feed("provider-events", rcs_report(http_report, "DELIVERED"))  # a duplicate of the late report
    rows = [(r["status"], r["channel"], r["terminal"], r["fallback_reason"]) for r in feeder.receipts]
    assert rows == [("SENT", "RCS", False, None), ("SENT", "SMS", False, "rcs_not_delivered_in_time"),
                    ("DELIVERED", "SMS", True, "rcs_not_delivered_in_time"), ("DELIVERED", "RCS", False, "rcs_not_delivered_in_time"),
                    ("READ", "RCS", False, "rcs_not_delivered_in_time")]
    assert "replaced" in feeder.receipts[3]["detail"]
    assert len(feeder.fallbacks) == 1


def test_a_late_rcs_delivery_before_the_sms_is_announced_leaves_the_outcome_to_the_sms(
        feeder: Feeder, rcs_dispatched, sms_dispatched, http_report) -> None:
    feeder.feed("dispatched", rcs_dispatched())
    feeder.feed("rcs-deadline", deadline())
    feeder.feed("provider-events", rcs_report(http_report, "DELIVERED"))
    feeder.feed("dispatched", sms_dispatched())
    feeder.feed("provider-events", sms_report(http_report, "UNDELIVERED"))
    assert terminal(feeder) == [("UNDELIVERED", "SMS")]
    assert [(r["status"], r["channel"]) for r in feeder.receipts if not r["terminal"]] == [
        ("SENT", "RCS"), ("DELIVERED", "RCS"), ("SENT", "SMS")]


def test_an_rcs_message_delivered_in_time_never_falls_back(feeder: Feeder, rcs_dispatched, http_report) -> None:
    feeder.feed("dispatched", rcs_dispatched())
    feeder.feed("provider-events", rcs_report(http_report, "DELIVERED"))
    feeder.feed("rcs-deadline", deadline())
    feeder.feed("provider-events", rcs_report(http_report, "EXPIRED"))
    assert terminal(feeder) == [("DELIVERED", "RCS")] and feeder.fallbacks == []


def test_a_deadline_of_an_older_attempt_does_nothing(feeder: Feeder, dispatched_event, rcs_dispatched) -> None:
    # An attempt this state never saw waits REPORT_WAIT for its dispatched event (it may be late), then does nothing.
    long_ago = Feeder.NOW - REPORT_WAIT
    feeder.feed("dispatched", dispatched_event())
    assert feeder.feed("rcs-deadline", deadline(provider="smpp:local", provider_message_ids=["an-older-attempt"], due_at=long_ago)) == []
    other = Feeder()
    other.feed("dispatched", rcs_dispatched())
    assert other.feed("rcs-deadline", deadline(provider_message_ids=["an-older-attempt"], due_at=long_ago)) == []


def test_rcs_without_fallback_expires_when_its_validity_ends_without_a_report(feeder: Feeder, rcs_dispatched, http_report) -> None:
    feeder.feed("dispatched", rcs_dispatched(fallback=None))
    feeder.feed("rcs-deadline", deadline())
    feeder.feed("provider-events", rcs_report(http_report, "DELIVERED"))  # too late: the outcome is written
    [expired] = [r for r in feeder.receipts if r["terminal"]]
    assert (expired["status"], expired["reason"], expired["channel"], expired["provider_message_id"]) == (
        "EXPIRED", "no_report_within_validity", "RCS", "m-1")
    assert feeder.fallbacks == [] and len(feeder.receipts) == 2


def test_a_deadline_before_its_message_is_known_waits(feeder: Feeder) -> None:
    from processors.receipt.logic import UnknownMessage

    with pytest.raises(UnknownMessage):
        feeder.feed("rcs-deadline", deadline())


def test_the_trigger_read_again_sends_the_fallback_again_with_the_same_receipt(feeder: Feeder, rcs_dispatched, http_report) -> None:
    """A batch that failed after writing the state must not lose the fallback: dispatch's ledger drops the copy."""
    feeder.feed("dispatched", rcs_dispatched(), offset=0)
    first = feeder.feed("provider-events", rcs_report(http_report, "EXPIRED"), offset=1)
    again = feeder.feed("provider-events", rcs_report(http_report, "EXPIRED"), offset=1)
    assert [o.value for o in first if o.topic != "message-state"] == [o.value for o in again if o.topic != "message-state"]
    assert [o.value["fallback_reason"] for o in feeder.fallbacks] == ["rcs_expired", "rcs_expired"]


INPUTS = ["DUE", "RCS_UNDELIVERED", "RCS_DELIVERED", "RCS_READ", "SMS_DISPATCHED", "SMS_DELIVERED", "SMS_UNDELIVERED", "SMS_DUE"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(INPUTS), max_size=10))
def test_any_order_sends_at_most_one_fallback_and_writes_at_most_one_terminal_receipt(
        words: list[str], rcs_dispatched, sms_dispatched, http_report) -> None:
    feeder = Feeder()
    feeder.feed("dispatched", rcs_dispatched())
    records = {
        "DUE": ("rcs-deadline", deadline), "RCS_UNDELIVERED": ("provider-events", lambda: rcs_report(http_report, "UNDELIVERED")),
        "RCS_DELIVERED": ("provider-events", lambda: rcs_report(http_report, "DELIVERED")),
        "RCS_READ": ("provider-events", lambda: rcs_report(http_report, "READ", kind="READ_REPORT")),
        "SMS_DISPATCHED": ("dispatched", sms_dispatched),
        "SMS_DELIVERED": ("provider-events", lambda: sms_report(http_report, "DELIVERED")),
        "SMS_UNDELIVERED": ("provider-events", lambda: sms_report(http_report, "UNDELIVERED")),
        # The SMS attempt's own deadline (its validity's end plus a grace): UNKNOWN when nothing ended it before.
        "SMS_DUE": ("rcs-deadline", lambda: deadline(provider_message_ids=["agg-7"])),
    }
    for word in words:
        if word.startswith("SMS_") and not feeder.fallbacks:
            continue  # the SMS attempt exists only once its fallback was sent
        topic, build = records[word]
        try:
            feeder.feed(topic, build())
        except Exception as exc:  # an SMS report before its attempt was announced waits for it (retried by the runtime)
            assert word.startswith("SMS_") and type(exc).__name__ in ("UnknownMessage", "UnattributableReport")
    assert len(feeder.fallbacks) <= 1
    assert len(terminal(feeder)) <= 1
    if "RCS_DELIVERED" in words and not feeder.fallbacks:
        assert terminal(feeder) == [("DELIVERED", "RCS")]
    if ("UNKNOWN", "SMS") in terminal(feeder):
        assert not any(r["terminal"] for r in feeder.receipts if r["status"] != "UNKNOWN")
