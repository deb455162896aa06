"""The request model: random valid payloads pass and become schema-valid send-requested values; each limit names its field."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastavro.validation import validate
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import schemas
from processors.intake.logic import send_requested
from processors.intake.models import MAX_VALIDITY_S, MAX_VARIABLE_CHARS, MAX_VARIABLES, MessageRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=64)
optional_names = st.none() | names


@st.composite
def valid_payloads(draw: st.DrawFn) -> dict[str, Any]:
    lane = draw(st.sampled_from(["transactional", "marketing"]))
    payload: dict[str, Any] = {
        "template_id": draw(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")),
        "recipient": draw(st.text(min_size=1, max_size=32)),
        "variables": draw(st.dictionaries(names, st.text(max_size=MAX_VARIABLE_CHARS), max_size=MAX_VARIABLES)),
        "channel_policy": draw(st.sampled_from(["rcs_with_sms_fallback", "rcs_only", "sms", "mms"])),
        "lane": lane,
        "subscription_group": draw(names) if lane == "marketing" else draw(optional_names),
        "campaign_id": draw(optional_names), "variant": draw(optional_names),
        "idempotency_key": draw(st.none() | st.text(min_size=1, max_size=255)),
        "send_at": draw(st.none() | st.datetimes(timezones=st.just(timezone(timedelta(hours=2))),
                                                 min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))),
        "validity": draw(st.none() | st.integers(1, MAX_VALIDITY_S)),
        "default_region": draw(st.none() | st.from_regex(r"\A[A-Za-z]{2}\Z")),
        "locale": draw(st.none() | st.sampled_from(["fr", "fr-FR", "sv_SE", "en-GB", "zh-Hant-TW"])),
    }
    return {k: v for k, v in payload.items() if v is not None or draw(st.booleans())}


@given(valid_payloads())
def test_a_valid_payload_becomes_a_schema_valid_send_requested(payload: dict[str, Any]) -> None:
    request = MessageRequest.model_validate(payload)
    output = send_requested(request, "m-1", NOW, "api")
    assert validate(output.value, schemas.parsed_schema("SendRequested"), raise_errors=True)
    assert output.topic == "send-requested" and output.key == payload["recipient"]
    assert output.value["channel_policy"] == payload.get("channel_policy", "sms").upper()
    assert output.value["context"]["lane"] == payload["lane"].upper()
    assert output.value["validity_seconds"] == payload.get("validity")


def _field_of(payload: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        MessageRequest.model_validate(payload)
    return {str(error["loc"][0]) if error["loc"] else "" for error in caught.value.errors()}


BASE = {"template_id": "otp", "recipient": "+33612345678", "variables": {"code": "1"}}
INVALID = [
    ({"recipient": "1" * 33}, "recipient"),
    ({"recipient": ""}, "recipient"),
    ({"variables": {f"v{i}": "x" for i in range(MAX_VARIABLES + 1)}}, "variables"),
    ({"variables": {"code": "x" * (MAX_VARIABLE_CHARS + 1)}}, "variables"),
    ({"variables": {"code": 123456}}, "variables"),
    ({"template_id": "../etc/passwd"}, "template_id"),
    ({"template_id": "x" * 65}, "template_id"),
    ({"channel_policy": "RCS_ONLY"}, "channel_policy"),
    ({"lane": "urgent"}, "lane"),
    ({"validity": 0}, "validity"),
    ({"validity": MAX_VALIDITY_S + 1}, "validity"),
    ({"send_at": "2030-01-01T10:00:00"}, "send_at"),
    ({"default_region": "FRA"}, "default_region"),
    ({"locale": "fr FR"}, "locale"),
    ({"validity_seconds": 60}, "validity_seconds"),
    ({"lane": "marketing"}, ""),
]


@pytest.mark.parametrize(("change", "field"), INVALID, ids=[f for _, f in INVALID])
def test_each_limit_names_its_field(change: dict[str, Any], field: str) -> None:
    assert _field_of({**BASE, **change}) == {field}


@given(st.integers(max_value=0) | st.integers(min_value=MAX_VALIDITY_S + 1))
def test_validity_outside_one_second_to_seven_days_is_refused(validity: int) -> None:
    assert _field_of({**BASE, "validity": validity}) == {"validity"}


@given(st.text(min_size=33, max_size=80))
def test_recipients_over_32_characters_are_refused(recipient: str) -> None:
    assert _field_of({**BASE, "recipient": recipient}) == {"recipient"}


def test_defaults_are_sms_and_transactional() -> None:
    request = MessageRequest.model_validate({"template_id": "otp", "recipient": "+33612345678"})
    assert (request.channel_policy, request.lane, request.variables) == ("sms", "transactional", {})
