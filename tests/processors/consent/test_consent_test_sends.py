"""Test sends at the consent check: only to the test list, no opt-in asked, never to anyone else."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from processors.consent.logic import Rules, check, consent_key
from processors.rules.test_sends import is_test, parse_test_numbers, refusal_detail

NOW = datetime(2026, 3, 2, 9, 0, 30, tzinfo=timezone.utc)
TEAM = frozenset({"+33612345678"})


def marketing_test(request_event, recipient: str = "+33612345678") -> dict:
    event = request_event(recipient=recipient, lane="MARKETING", subscription_group="promotions", template_id="promo_spring")
    event["context"]["test"] = True
    return event


def test_a_test_send_to_a_team_number_passes_without_any_opt_in(request_event, assert_valid) -> None:
    [out] = check(marketing_test(request_event), {}, NOW, rules=Rules(test_numbers=TEAM))
    assert_valid(out)
    assert (out.topic, out.key, out.value["consent_basis"]) == ("consent-checked", "+33612345678", "test:+33612345678")
    assert out.value["context"]["test"] is True


def test_a_test_send_to_anyone_else_is_rejected_even_when_opted_in(request_event, assert_valid) -> None:
    opted_in = {consent_key("+33612345679", "promotions"): {
        "e164": "+33612345679", "subscription_group": "promotions", "status": "OPTED_IN", "basis": "MARKETING", "source": "form",
        "evidence": None, "changed_at": NOW}}
    [out] = check(marketing_test(request_event, "+33612345679"), opted_in, NOW, rules=Rules(test_numbers=TEAM))
    assert_valid(out)
    assert (out.value["status"], out.value["reason"]) == ("REJECTED", "not_a_test_number")
    assert "not on the test list" in out.value["detail"]
    [none] = check(marketing_test(request_event), {}, NOW, rules=Rules())
    assert none.value["reason"] == "not_a_test_number" and "no test list" in none.value["detail"]


def test_a_real_message_is_untouched_by_the_list(request_event) -> None:
    [out] = check(request_event(lane="MARKETING", subscription_group="promotions"), {}, NOW, rules=Rules(test_numbers=TEAM))
    assert out.value["reason"] == "no_consent"


def test_the_list_and_the_flag() -> None:
    assert parse_test_numbers(" +33612345678, ,+14155550123 ") == frozenset({"+33612345678", "+14155550123"})
    for bad in ("0612345678", "+3361234", "+33 6 12 34 56 78"):
        with pytest.raises(ValueError, match="E.164"):
            parse_test_numbers(bad)
    assert is_test({"test": True}) and not is_test({"test": None}) and not is_test({})
    assert refusal_detail("+33612345678", TEAM) is None
