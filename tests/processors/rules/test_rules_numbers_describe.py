"""``describe`` (what ``courrier phone`` prints): ``valid`` is phonenumbers' and Twilio Lookup's (the number exists in its
numbering plan), apart from ``sms_capable`` and ``line_type`` (issue 20: a real landline or toll-free number was "invalid")."""
from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, strategies as st

from processors.rules.numbers import describe, normalize


@pytest.mark.parametrize(("number", "region", "valid", "line_type", "sms_capable"), [
    ("+33612345678", None, True, "mobile", True),
    ("01 42 68 53 00", "FR", True, "fixed_line", False),
    ("+1 800 275 2273", None, True, "toll_free", False),
    ("+442079460018", None, True, "fixed_line", False),
    ("+14155550123", None, True, "fixed_line_or_mobile", True),
    ("+80012345678", None, True, "toll_free", False),
    ("+447700900123", None, False, "unknown", False),  # a drama range: possible, not in the plan
    ("+33 1 23", None, False, None, False),
    ("not a number", None, False, None, False),
])
def test_validity_line_type_and_sms_capability_are_separate(number: str, region: str | None, valid: bool, line_type: str | None,
                                                            sms_capable: bool) -> None:
    facts = describe(number, region)
    assert (facts["valid"], facts["line_type"], facts["sms_capable"]) == (valid, line_type, sms_capable)
    assert (facts["reason"] is None) == sms_capable


@given(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)), st.sampled_from(["mobile", "fixed_line", "toll_free", "voip"]))
def test_valid_agrees_with_phonenumbers_and_sms_capable_with_the_pipeline(region: str, kind: str) -> None:
    example = phonenumbers.example_number_for_type(region, getattr(phonenumbers.PhoneNumberType, kind.upper()))
    if example is None:
        return
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    facts = describe(e164, None)
    assert facts["valid"] == phonenumbers.is_valid_number(example)
    assert facts["sms_capable"] == isinstance(normalize(e164, None), dict)
