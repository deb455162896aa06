"""Intake rules against the bundled templates: number refusals, unknown templates, missing variables as render sees them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.rules.numbers import Refusal, normalize
from processors.intake.logic import new_message_id, problems
from processors.rules.idempotency import idempotency_record, live_message_id
from processors.intake.models import MessageRequest
from processors.rules.templates import load, parse

TEMPLATES = load()
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def request(**fields: Any) -> MessageRequest:
    return MessageRequest.model_validate({"template_id": "otp", "recipient": "+33612345678", "variables": {"code": "1"}, **fields})


def test_a_good_request_has_no_problems() -> None:
    assert problems(request(), TEMPLATES) == []


def test_a_variable_with_a_default_filter_is_optional_and_the_others_are_named_in_template_order() -> None:
    assert problems(request(variables={}), TEMPLATES)[0].missing_variables == ["code"]  # minutes has `default: 10`
    found = problems(request(template_id="order_shipped", variables={"order_id": "A1"}), TEMPLATES)
    assert [(p.code, p.missing_variables) for p in found] == [("missing_variables", ["first_name"])]


def test_the_language_the_render_stage_picks_is_the_one_checked(tmp_path: Path) -> None:
    (tmp_path / "hello.toml").write_text('id = "hello"\n[sms]\ndefault = "Hi"\nfr = "Bonjour {{ name }}"\n')
    templates = {"hello": parse(tmp_path / "hello.toml")}
    us = "+12015550123"
    assert problems(request(template_id="hello", variables={}, recipient=us), templates) == []
    assert problems(request(template_id="hello", variables={}, recipient=us, locale="fr-FR"), templates)[0].missing_variables == ["name"]
    french_number = problems(request(template_id="hello", variables={}, recipient="0612345678", default_region="FR"), templates)
    assert french_number[0].missing_variables == ["name"]


@pytest.mark.parametrize(("policy", "missing"), [("sms", []), ("mms", []), ("rcs_only", ["agent_name"]),
                                                 ("rcs_with_sms_fallback", ["agent_name"])])
def test_variables_of_the_rcs_section_are_needed_only_when_the_policy_can_end_on_rcs(tmp_path: Path, policy: str,
                                                                                      missing: list[str]) -> None:
    (tmp_path / "card.toml").write_text('id = "card"\n[sms]\ndefault = "Hi {{ name }}"\n[rcs]\ntext = "{{ agent_name }} says hi {{ name }}"\n')
    templates = {"card": parse(tmp_path / "card.toml")}
    found = problems(request(template_id="card", variables={"name": "Ann"}, channel_policy=policy), templates)
    assert [name for p in found for name in p.missing_variables or []] == missing


def test_an_unknown_template_lists_the_known_ones_and_the_number_is_still_checked() -> None:
    found = problems(request(template_id="welcome", recipient="+3361"), TEMPLATES)
    assert [(p.code, p.field) for p in found] == [("invalid_number", "recipient"), ("unknown_template", "template_id")]
    assert found[1].known_templates == sorted(TEMPLATES)


def test_a_render_failure_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "loop.toml").write_text('id = "loop"\n[sms]\ndefault = "{% for i in (1..100000) %}x{% endfor %}"\n')
    found = problems(request(template_id="loop", variables={}), {"loop": parse(tmp_path / "loop.toml")})
    assert [p.code for p in found] == ["render_failed"]


@given(st.text(max_size=32), st.none() | st.sampled_from(["FR", "US", "SE", "XX"]))
def test_number_problems_are_exactly_the_consent_stage_refusals(recipient: str, region: str | None) -> None:
    verdict = normalize(recipient, region)
    try:
        message = request(recipient=recipient, default_region=region)
    except ValueError:  # an empty recipient never reaches the rules
        assert recipient == ""
        return
    found = [p for p in problems(message, TEMPLATES) if p.field == "recipient"]
    assert [p.code for p in found] == ([verdict.reason] if isinstance(verdict, Refusal) else [])


def test_idempotency_records_open_a_window_that_closes() -> None:
    record = idempotency_record("k", "m-1", NOW, timedelta(hours=24))
    assert (record.topic, record.key) == ("idempotency", "k")
    assert live_message_id(record.value, NOW + timedelta(hours=23, minutes=59)) == "m-1"
    assert live_message_id(record.value, NOW + timedelta(hours=24)) is None
    assert live_message_id(None, NOW) is None


def test_message_ids_are_fresh_uuids() -> None:
    assert len({new_message_id() for _ in range(1000)}) == 1000


def test_a_time_zone_reaches_send_requested_and_an_unknown_one_is_refused() -> None:
    from processors.intake.logic import send_requested

    good = request(time_zone="America/Chicago")
    assert problems(good, load()) == []
    assert send_requested(good, "m-1", datetime.now(timezone.utc), "test").value["time_zone"] == "America/Chicago"
    bad = request(time_zone="Mars/Olympus")
    assert [(p.code, p.field) for p in problems(bad, load())] == [("invalid_time_zone", "time_zone")]


def test_a_fallback_window_reaches_send_requested_only_with_a_fallback_policy() -> None:
    from pydantic import ValidationError

    from processors.intake.logic import send_requested

    windowed = request(channel_policy="rcs_with_sms_fallback", sms_fallback_after_s=60)
    assert send_requested(windowed, "m-1", datetime.now(timezone.utc), "test").value["sms_fallback_after_s"] == 60
    assert send_requested(request(), "m-1", datetime.now(timezone.utc), "test").value["sms_fallback_after_s"] is None
    with pytest.raises(ValidationError, match="rcs_with_sms_fallback only"):
        request(channel_policy="rcs_only", sms_fallback_after_s=60)
    with pytest.raises(ValidationError):
        request(channel_policy="rcs_with_sms_fallback", sms_fallback_after_s=0)
