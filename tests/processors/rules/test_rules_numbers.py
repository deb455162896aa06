"""Number normalization: what is accepted, what each refusal says, and that formatting never changes the outcome."""
from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from processors.rules import numbers
from processors.rules.numbers import SMS_CAPABLE_TYPES, Refusal, normalize

REGIONS = ["FR", "SE", "US", "CA", "GB", "DE", "BE", "ES", "IT", "JP", "BR", "IN", "AU", "NG"]


def test_mobile_in_international_form() -> None:
    assert normalize("+33 6 12 34 56 78", None) == {
        "e164": "+33612345678", "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"}


def test_national_form_uses_the_default_region_in_any_case() -> None:
    assert normalize("06 12 34 56 78", "fr")["e164"] == "+33612345678"
    assert normalize("070-123 45 67", "SE") == {
        "e164": "+46701234567", "region": "SE", "number_type": "mobile", "time_zone": "Europe/Stockholm"}


def test_us_numbers_are_fixed_line_or_mobile_and_allowed() -> None:
    recipient = normalize("(201) 555-0123", "US")
    assert recipient == {"e164": "+12015550123", "region": "US", "number_type": "fixed_line_or_mobile",
                         "time_zone": "America/New_York"}


@pytest.mark.parametrize(("raw", "region", "reason"), [
    ("0612345678", None, "unknown_region"),        # national form, nothing says which country
    ("0612345678", "XX", "unknown_region"),        # a default region that does not exist
    ("+999 123 456", None, "unknown_region"),      # unassigned country code
    ("+80012345678", None, "number_type_cannot_receive_sms"),  # international freephone: valid, but toll free
    ("not a number", "FR", "invalid_number"),
    ("", "FR", "invalid_number"),
    ("+3312", None, "invalid_number"),             # too short for France
    ("+447700900123", None, "invalid_number"),     # Ofcom's drama range: never assigned
    ("+33 1 42 68 53 00", None, "number_type_cannot_receive_sms"),  # Paris landline
    ("+33 8 00 12 34 56", None, "number_type_cannot_receive_sms"),  # French toll free
    ("+44 70 1234 5678", None, "number_type_cannot_receive_sms"),   # UK personal number
])
def test_refusals(raw: str, region: str | None, reason: str) -> None:
    refusal = normalize(raw, region)
    assert isinstance(refusal, Refusal)
    assert refusal.reason == reason
    assert refusal.detail


def test_refusal_detail_names_the_number_type() -> None:
    assert normalize("+33142685300", None).detail == "a fixed_line number cannot receive SMS"


def test_time_zone_is_the_first_zone_phonenumbers_gives() -> None:
    assert normalize("+1 902 555 0123", None)["time_zone"] == "America/Halifax"


def test_time_zone_is_none_when_the_number_does_not_tell(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every valid regional mobile in today's metadata has a zone; a number without one must still pass.
    monkeypatch.setattr(numbers.number_timezone, "time_zones_for_number", lambda _n: ("Etc/Unknown",))
    numbers.clear_cache()  # the number's analysis may be cached from an earlier test, with the real zones
    try:
        assert normalize("+33612345678", None)["time_zone"] is None
    finally:
        numbers.clear_cache()


def test_an_analysis_is_cached_and_each_caller_gets_its_own_record() -> None:
    numbers.clear_cache()
    first = normalize("+33 6 12 34 56 78", None)
    first["time_zone"] = "America/Cayenne"  # a caller changing its record must not change the next caller's
    again = normalize("+33 6 12 34 56 78", None)
    assert again["time_zone"] == "Europe/Paris"
    info = numbers._analysis.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_non_geographic_mobile_has_no_region() -> None:
    refusal = normalize("+881612345678", None)  # Iridium satellite phone: mobile, but no country rules apply
    assert refusal == Refusal("unknown_region", "+881 numbers belong to no country")


def _example_numbers() -> list[phonenumbers.PhoneNumber]:
    numbers = []
    for region in REGIONS:
        for number_type in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE,
                            PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.VOIP):
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                numbers.append(example)
    return numbers


EXAMPLES = _example_numbers()
FORMATS = [PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL, PhoneNumberFormat.RFC3966]


@settings(max_examples=300, deadline=None)
@given(number=st.sampled_from(EXAMPLES), number_format=st.sampled_from(FORMATS),
       separator=st.sampled_from(["", " ", "-", "."]))
def test_formatting_never_changes_the_outcome(number: phonenumbers.PhoneNumber, number_format: int, separator: str) -> None:
    region = phonenumbers.region_code_for_number(number)
    written = phonenumbers.format_number(number, number_format).replace(" ", separator)
    canonical = normalize(phonenumbers.format_number(number, PhoneNumberFormat.E164), None)
    assert normalize(written, region) == canonical
    if phonenumbers.number_type(number) in SMS_CAPABLE_TYPES:
        assert canonical["region"] == region
        assert normalize(canonical["e164"], None) == canonical  # idempotent
    else:
        assert canonical.reason == "number_type_cannot_receive_sms"


@settings(max_examples=500, deadline=None)
@given(raw=st.text(max_size=40), region=st.one_of(st.none(), st.sampled_from(REGIONS + ["", "xx", "001", "zz"])))
def test_any_text_gives_a_recipient_or_a_refusal(raw: str, region: str | None) -> None:
    result = normalize(raw, region)
    if isinstance(result, Refusal):
        assert result.reason in {"invalid_number", "unknown_region", "number_type_cannot_receive_sms"}
    else:
        assert result["e164"].startswith("+") and result["e164"][1:].isdigit()
        assert result["number_type"] in {"mobile", "fixed_line_or_mobile"}


@settings(max_examples=500, deadline=None)
@given(number=st.one_of(st.sampled_from(EXAMPLES), st.builds(
    phonenumbers.PhoneNumber, country_code=st.sampled_from([1, 7, 33, 44, 46, 61, 800, 881, 999]),
    national_number=st.integers(min_value=0, max_value=10**12))))
def test_a_number_is_valid_exactly_when_its_type_is_known(number: phonenumbers.PhoneNumber) -> None:
    # numbers.py asks number_type alone and reads UNKNOWN as invalid, which is how phonenumbers decides validity.
    assert phonenumbers.is_valid_number(number) == (phonenumbers.number_type(number) != PhoneNumberType.UNKNOWN)


@pytest.mark.parametrize("number", EXAMPLES, ids=lambda n: phonenumbers.format_number(n, PhoneNumberFormat.E164))
def test_zones_are_the_ones_phonenumbers_gives_for_the_number(number: phonenumbers.PhoneNumber) -> None:
    # numbers.py asks for a country's zones once per country code when the type is not placed within a country.
    found = numbers.examine(phonenumbers.format_number(number, PhoneNumberFormat.E164), None)
    if not isinstance(found, Refusal):
        expected = numbers.number_timezone.time_zones_for_number(number)
        assert found.zones == tuple(zone for zone in expected if zone != numbers.number_timezone.UNKNOWN_TIMEZONE)


@settings(max_examples=500, deadline=None)
@given(number=st.one_of(st.sampled_from(EXAMPLES), st.builds(
    phonenumbers.PhoneNumber, country_code=st.sampled_from([1, 7, 33, 39, 44, 46, 61, 800, 881, 999]),
    national_number=st.integers(min_value=0, max_value=10**12))))
def test_the_type_given_the_region_is_phonenumbers_number_type(number: phonenumbers.PhoneNumber) -> None:
    # numbers.py asks for the region once and the type in it, where number_type would ask for the region again.
    region = phonenumbers.region_code_for_number(number)
    assert numbers.type_in_region(number, region) == phonenumbers.number_type(number)
