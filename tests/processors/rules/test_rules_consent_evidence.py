"""Consent records with evidence: what an opt-in must prove, numbers in E.164, the change and where it is written."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from fastavro.validation import validate
from pydantic import ValidationError

import schemas
from processors.rules.consent_evidence import ConsentRecord, change, future, outputs, problems

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
OPT_IN: dict[str, Any] = {"number": "+33612345678", "subscription_group": "promotions", "status": "opted_in", "source": "form",
                          "changed_at": "2026-03-01T09:00:00+01:00", "text_shown": "Yes, offers by SMS", "ip_address": "203.0.113.7"}


def refused(**fields: Any) -> list[tuple[str | None, str]]:
    with pytest.raises(ValidationError) as caught:
        ConsentRecord.model_validate(fields)
    return problems(caught.value)


def test_an_opt_in_with_its_evidence_becomes_a_change_written_to_both_topics() -> None:
    record = ConsentRecord.model_validate({**OPT_IN, "number": "06 12 34 56 78", "default_region": "fr"})
    value = change(record, "api-key:k1")
    validate(value, schemas.parsed_schema("ConsentChange"), raise_errors=True)
    assert value["e164"] == "+33612345678" and value["status"] == "OPTED_IN" and value["basis"] == "MARKETING"
    assert (value["text_shown"], value["ip_address"], value["recorded_by"], value["needs_review"]) == (
        "Yes, offers by SMS", "203.0.113.7", "api-key:k1", False)
    assert [(o.topic, o.key) for o in outputs(value)] == [("consent", "+33612345678|promotions"), ("consent-history", "+33612345678")]


def test_an_opt_in_must_say_what_was_shown_and_how_it_was_given() -> None:
    assert refused(**{**OPT_IN, "text_shown": None})[0][1].startswith("an opt-in needs text_shown")
    assert "ip_address, inbound_message_id or evidence" in refused(**{**OPT_IN, "ip_address": None})[0][1]
    for trace in ({"evidence": "form-2026-118"}, {"inbound_message_id": "SM123"}):
        assert ConsentRecord.model_validate({**OPT_IN, "ip_address": None, **trace})


def test_an_opt_out_needs_no_proof_beyond_time_and_source() -> None:
    record = ConsentRecord.model_validate({"number": "+46701234567", "subscription_group": "news", "status": "opted_out",
                                           "source": "call", "changed_at": "2026-03-01T09:00:00Z"})
    assert change(record, None)["status"] == "OPTED_OUT"


@pytest.mark.parametrize(("fields", "field"), [
    ({"number": "12"}, "number"), ({"number": "0612345678"}, "number"), ({"ip_address": "300.1.1.1"}, "ip_address"),
    ({"changed_at": "2026-03-01T09:00:00"}, "changed_at"), ({"status": "maybe"}, "status"), ({"colour": "red"}, "colour"),
    ({"subscription_group": "promo tions"}, "subscription_group"),
])
def test_bad_fields_are_named_without_repeating_the_value(fields: dict[str, Any], field: str) -> None:
    found = refused(**{**OPT_IN, **fields})
    assert field in {f for f, _ in found}
    assert all("0612345678" not in message and "300.1.1.1" not in message for _, message in found)


def test_a_change_dated_in_the_future_is_refused_a_little_skew_is_not() -> None:
    assert future(ConsentRecord.model_validate({**OPT_IN, "changed_at": "2026-03-02T12:04:00Z"}), NOW) is None
    assert "in the future" in (future(ConsentRecord.model_validate({**OPT_IN, "changed_at": "2026-03-02T13:00:00Z"}), NOW) or "")
