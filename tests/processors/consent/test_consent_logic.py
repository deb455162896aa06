"""Consent rules through the stage: outputs, receipts, keys and schemas."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from processors.consent.logic import consent_key, expiry
from processors.runtime.stage import Output, RecordMeta
from tests.processors.consent.conftest import RulesOnly, consent_stage

NOW = datetime(2026, 3, 2, 9, 0, 30, tzinfo=timezone.utc)
OPTED_IN_AT = datetime(2026, 2, 1, 12, 0, tzinfo=timezone.utc)


def meta(now: datetime = NOW, key: str = "+33612345678") -> RecordMeta:
    """Records keyed by their E.164, as the client publishes them (a Monday 10:00 in Paris: inside every quiet-hour window)."""
    return RecordMeta(topic="send-requested", partition=0, offset=0, key=key, now=now)


def change(e164: str, group: str, status: str, source: str = "keyword") -> dict[str, Any]:
    return {"e164": e164, "subscription_group": group, "status": status, "basis": "MARKETING", "source": source,
            "evidence": None, "changed_at": OPTED_IN_AT}


def only(outputs: list[Output]) -> Output:
    assert len(outputs) == 1
    return outputs[0]


@pytest.fixture
def stage() -> RulesOnly:
    return consent_stage({
        consent_key("+33612345678", "promotions"): change("+33612345678", "promotions", "OPTED_IN", "form"),
        consent_key("+33612345679", "promotions"): change("+33612345679", "promotions", "OPTED_OUT"),
    })


def test_stage_contract(stage: RulesOnly) -> None:
    assert stage.name == "consent"
    assert stage.inputs == ("send-requested",)


def test_marketing_read_under_another_key_is_put_back_under_its_e164_before_its_consent_is_read(
        stage: RulesOnly, request_event: Callable[..., dict]) -> None:
    event = request_event(recipient="+33 6 12 34 56 79", lane="MARKETING", subscription_group="promotions")
    out = only(stage.process(event, meta(key="+33 6 12 34 56 79")))
    assert (out.topic, out.key, out.deliver_at) == ("send-requested", "+33612345679", None)


def test_transactional_goes_on_keyed_by_e164(stage: RulesOnly, request_event: Callable[..., dict], assert_valid) -> None:
    event = request_event(recipient="06 12 34 56 78", default_region="FR", locale="fr-FR", variables={"code": "42"})
    out = only(stage.process(event, meta()))
    assert_valid(out)
    assert (out.topic, out.key) == ("consent-checked", "+33612345678")
    assert out.value == {
        "context": event["context"],
        "recipient": {"e164": "+33612345678", "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"},
        "template_id": "otp", "template_version": None, "variables": {"code": "42"}, "channel_policy": "SMS", "expires_at": None,
        "locale": "fr-FR", "consent_basis": "transactional:otp", "sms_fallback_after_s": None,
    }


def test_marketing_with_opt_in_names_its_source_and_time(stage: RulesOnly, request_event, assert_valid) -> None:
    out, counted = stage.process(request_event(lane="MARKETING", subscription_group="promotions"), meta())
    assert_valid(out)
    assert_valid(counted)
    assert out.topic == "consent-checked"
    assert out.value["consent_basis"] == "opt-in:form@2026-02-01T12:00:00+00:00"
    assert (counted.topic, counted.key) == ("frequency", "+33612345678|promotions")
    assert counted.value["sends"] == [{"message_id": "m-1", "sent_at": NOW}]


@pytest.mark.parametrize(("recipient", "group", "status", "reason"), [
    ("+33612345679", "promotions", "SUPPRESSED", "opted_out"),
    ("+33612345670", "promotions", "SUPPRESSED", "no_consent"),
    ("+33612345678", "newsletter", "SUPPRESSED", "no_consent"),  # consent is per subscription group
    ("+33612345678", None, "REJECTED", "missing_subscription_group"),
    ("+33612345678", "", "REJECTED", "missing_subscription_group"),
])
def test_marketing_without_opt_in(stage: RulesOnly, request_event, assert_valid,
                                  recipient: str, group: str | None, status: str, reason: str) -> None:
    event = request_event(recipient=recipient, lane="MARKETING", subscription_group=group)
    out = only(stage.process(event, meta(key=recipient)))
    assert_valid(out)
    assert (out.topic, out.key) == ("receipt", recipient)
    value = out.value
    assert (value["status"], value["reason"], value["terminal"], value["stage"]) == (status, reason, True, "consent")
    assert value["context"] == event["context"] and value["recipient"] == recipient and value["detail"]
    assert value["occurred_at"] == NOW


def test_opt_out_detail_says_how_and_when(stage: RulesOnly, request_event) -> None:
    out = only(stage.process(request_event(recipient="+33612345679", lane="MARKETING", subscription_group="promotions"), meta(key="+33612345679")))
    assert out.value["detail"] == "opted out of subscription group 'promotions' via keyword at 2026-02-01T12:00:00+00:00"


def test_transactional_ignores_an_opt_out(stage: RulesOnly, request_event) -> None:
    event = request_event(recipient="+33612345679", subscription_group="promotions")
    assert only(stage.process(event, meta())).value["consent_basis"] == "transactional:otp"


@pytest.mark.parametrize(("recipient", "region", "reason"), [
    ("+33 1 42 68 53 00", None, "number_type_cannot_receive_sms"),
    ("06 12", "FR", "invalid_number"),
    ("0612345678", None, "unknown_region"),
])
def test_unusable_numbers_are_rejected_keyed_as_given(stage: RulesOnly, request_event, assert_valid,
                                                       recipient: str, region: str | None, reason: str) -> None:
    out = only(stage.process(request_event(recipient=recipient, default_region=region), meta()))
    assert_valid(out)
    assert (out.topic, out.key, out.value["recipient"]) == ("receipt", recipient, recipient)
    assert (out.value["status"], out.value["reason"], out.value["terminal"]) == ("REJECTED", reason, True)


def test_expiry_is_requested_at_plus_validity(request_event) -> None:
    event = request_event(validity_seconds=600)
    assert expiry(event) == event["context"]["requested_at"] + timedelta(seconds=600)
    assert expiry(request_event()) is None


def test_message_still_valid_carries_its_expiry(stage: RulesOnly, request_event, assert_valid) -> None:
    out = only(stage.process(request_event(validity_seconds=31), meta()))
    assert_valid(out)
    assert out.value["expires_at"] == datetime(2026, 3, 2, 9, 0, 31, tzinfo=timezone.utc)


@pytest.mark.parametrize("validity_seconds", [30, 5, 0])
def test_elapsed_validity_is_an_expired_receipt(stage: RulesOnly, request_event, assert_valid, validity_seconds: int) -> None:
    out = only(stage.process(request_event(validity_seconds=validity_seconds, lane="MARKETING"), meta()))
    assert_valid(out)
    assert (out.topic, out.key) == ("receipt", "+33612345678")
    assert (out.value["status"], out.value["reason"], out.value["terminal"]) == ("EXPIRED", "validity_elapsed", True)


def test_the_number_is_checked_before_the_validity(stage: RulesOnly, request_event) -> None:
    out = only(stage.process(request_event(recipient="+3312", validity_seconds=0), meta()))
    assert out.value["reason"] == "invalid_number"


def test_the_request_fallback_window_is_carried_to_the_channel_stage(stage: RulesOnly, request_event, assert_valid) -> None:
    out = only(stage.process(request_event(channel_policy="RCS_WITH_SMS_FALLBACK", sms_fallback_after_s=45), meta()))
    assert_valid(out)
    assert out.value["sms_fallback_after_s"] == 45


def test_a_dead_lettered_request_gets_its_failed_receipt(stage: RulesOnly, request_event, assert_valid) -> None:
    """What the runtime writes beside a send-requested it dead-letters: the message's one terminal receipt."""
    event = request_event(recipient="06 12 34 56 78", default_region="FR")
    meta = RecordMeta("send-requested", 0, 7, "06 12 34 56 78", NOW)
    [failed] = stage.stage.dead_letter_outputs(event, ValueError("boom"), meta)
    assert_valid(failed)
    assert (failed.topic, failed.value["status"], failed.value["terminal"], failed.value["reason"]) == (
        "receipt", "FAILED", True, "dead_lettered")
    assert "consent sent the record to dead-letter: ValueError: boom" in failed.value["detail"]
