"""Dispatch's deadlines and its part of RCS with SMS fallback: the deadline parked with each submission (RCS: its
fallback or validity; SMS and MMS: validity plus report grace), the SMS attempt's own submission id, and an RCS refusal
that falls back at once instead of failing the message."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastavro.validation import validate

import schemas
from dispatch_broker import rendered  # noqa: I001 (same folder)
from processors import fallback
from processors.dispatch import logic
from processors.dispatch.provider import SubmitResult
from processors.dispatch.validity import Validity
from topology.topics import topic

NOW = datetime(2026, 3, 2, 9, 3, tzinfo=timezone.utc)
VALIDITY = Validity(default_s=86_400, report_grace_s=3_600)
SMS_SENDER = {"sender_id": "COURRIER", "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": 10.0}


def rcs_message(after_s: int | None = 300) -> dict:
    event = rendered("m-1", "+33612345678", "courrier-agent", rate=10.0)
    event["sender"]["type"] = "RCS_AGENT"
    event.update(channel="RCS", rcs_json='{"text":"Spring sale"}',
                 sms_fallback=None if after_s is None else {"sender": SMS_SENDER, "after_s": after_s})
    validate(event, schemas.parsed_schema("Rendered"), raise_errors=True)
    return event


def valid(outputs: list) -> list:
    for output in outputs:
        validate(output.value, schemas.parsed_schema(topic(output.topic).value_schema), raise_errors=True)
    return outputs


def test_an_accepted_rcs_attempt_parks_its_deadline_and_carries_the_prepared_sms() -> None:
    accepted, event = SubmitResult("m-1", True, ["m-1"], None, False, None), rcs_message()
    announced, deadline = valid(logic.outcome(event, "http:sim", accepted, NOW, VALIDITY))
    assert announced.topic == "dispatched" and announced.value["rcs_deadline_at"] == NOW + timedelta(seconds=300)
    sms = announced.value["fallback"]
    assert (sms["channel"], sms["sender"], sms["attempt"], sms["rcs_json"], sms["sms_fallback"]) == ("SMS", SMS_SENDER, 2, None, None)
    assert sms["sms"] == event["sms"] and sms["context"] == event["context"]
    assert (deadline.topic, deadline.key, deadline.deliver_at) == ("rcs-deadline", "m-1", NOW + timedelta(seconds=300))
    assert deadline.value == {"message_id": "m-1", "provider": "http:sim", "provider_message_ids": ["m-1"],
                              "due_at": NOW + timedelta(seconds=300)}


def test_rcs_without_fallback_has_its_validity_as_deadline() -> None:
    accepted = SubmitResult("m-1", True, ["m-1"], None, False, None)
    rcs_only = {**rcs_message(after_s=None), "expires_at": NOW + timedelta(hours=1)}
    announced, deadline = valid(logic.outcome(rcs_only, "http:sim", accepted, NOW, VALIDITY))
    assert announced.value["fallback"] is None and deadline.deliver_at == announced.value["rcs_deadline_at"] == NOW + timedelta(hours=1)
    # Without an expires_at, the validity it was submitted with (the default, from the submit) is its deadline.
    _announced, default = valid(logic.outcome(rcs_message(after_s=None), "http:sim", accepted, NOW, VALIDITY))
    assert default.deliver_at == NOW + timedelta(days=1)


def test_sms_and_mms_park_a_report_deadline_at_validity_end_plus_the_providers_grace() -> None:
    accepted = SubmitResult("m-1", True, ["p1", "p2"], None, False, None)
    sms = {**rendered("m-1", "+33612345678", "COURRIER", rate=10.0), "expires_at": NOW + timedelta(hours=1)}
    validity = Validity(default_s=86_400, report_grace_s=3_600, grace_by_provider={"smpp:fast": 600})
    for event, provider, due in ((sms, "http:sim", NOW + timedelta(hours=2)),
                                 (sms, "smpp:fast", NOW + timedelta(hours=1, minutes=10)),
                                 ({**sms, "expires_at": None}, "http:sim", NOW + timedelta(days=1, hours=1)),
                                 ({**sms, "channel": "MMS"}, "http:sim", NOW + timedelta(hours=2))):
        announced, deadline = valid(logic.outcome(event, provider, accepted, NOW, validity))
        assert announced.value["rcs_deadline_at"] is None and announced.value["fallback"] is None
        assert (deadline.topic, deadline.key, deadline.deliver_at) == ("rcs-deadline", "m-1", due)
        assert deadline.value == {"message_id": "m-1", "provider": provider, "provider_message_ids": ["p1", "p2"], "due_at": due}


def test_the_fallback_is_submitted_under_its_own_id_and_a_re_announcement_parks_the_deadline_again() -> None:
    sms = fallback.prepared(rcs_message())
    assert logic.plan(sms, NOW, frozenset({"SMS"}), VALIDITY).message_id == "m-1" + fallback.SUFFIX
    assert logic.plan(rcs_message(), NOW, frozenset({"RCS"}), VALIDITY).message_id == "m-1"
    assert fallback.message_id_of("m-1" + fallback.SUFFIX) == "m-1"
    record = logic.ledger_record("m-1", "SUBMITTED", "http:sim", ["m-1"], None, NOW)
    assert [o.topic for o in valid(logic.from_ledger(rcs_message(), record, NOW + timedelta(hours=1), VALIDITY))] == ["dispatched", "rcs-deadline"]


def test_an_rcs_refusal_falls_back_at_once_with_a_receipt_that_is_not_terminal() -> None:
    refused = SubmitResult("m-1", False, [], "NOT_RCS_CAPABLE", False, "rcs_not_capable")
    failed, sent = valid(logic.outcome(rcs_message(), "http:sim", refused, NOW, VALIDITY))
    assert (failed.value["status"], failed.value["terminal"], failed.value["channel"]) == ("FAILED", False, "RCS")
    assert (sent.topic, sent.key, sent.value["channel"], sent.value["fallback_reason"]) == ("rendered", "COURRIER", "SMS", "rcs_rejected")
    [alone] = logic.outcome(rcs_message(after_s=None), "http:sim", refused, NOW, VALIDITY)
    assert alone.value["terminal"] is True
