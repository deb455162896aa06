"""Campaign rows → send-requested: ids a re-run reproduces, variants with their own policy and template, problems counted."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from hypothesis import given, strategies as st

from processors.campaigns.logic import (
    CampaignSpec, columns_missing, control_record, idempotency_key, message_id, recipient_key, row_event,
)
from processors.campaigns.variants import Variant, VariantPlan
from processors.rules.templates import load

NOW = datetime(2025, 5, 2, 9, 30, tzinfo=timezone.utc)
SPEC = CampaignSpec(campaign_id="spring-2025", template_id="promo_spring", policy="SMS", subscription_group="promotions")
ROW = {"recipient": "+33612345678", "first_name": "Ava", "discount": "20"}


def test_a_row_becomes_a_marketing_send_requested_keyed_by_the_recipient_as_given(assert_valid: Callable[[Any], None]) -> None:
    event = row_event(SPEC, ROW, 0, NOW)
    assert_valid(event.output)
    value = event.output.value
    assert (event.output.topic, event.output.key) == ("send-requested", "+33612345678")
    assert value["context"] == {
        "message_id": message_id("spring-2025", "+33612345678", 0), "idempotency_key": "campaign:spring-2025:+33612345678",
        "campaign_id": "spring-2025", "variant": None, "lane": "MARKETING", "subscription_group": "promotions",
        "requested_at": NOW, "source": "campaign",
    }
    assert value["variables"] == {"first_name": "Ava", "discount": "20"}
    assert (value["template_id"], value["channel_policy"], value["default_region"], value["locale"]) == ("promo_spring", "SMS", None, None)
    assert event.problems == () and event.variant is None


def test_the_message_id_is_a_uuid_of_campaign_recipient_and_row() -> None:
    first = message_id("spring-2025", "+33612345678", 0)
    assert uuid.UUID(first).version == 5
    assert message_id("spring-2025", "+33612345678", 0) == first
    assert message_id("summer-2025", "+33612345678", 0) != first
    assert message_id("spring-2025", "+33612345679", 0) != first
    assert message_id("spring-2025", "+33612345678", 1) != first
    assert idempotency_key("spring-2025", "+33612345678") == "campaign:spring-2025:+33612345678"


def test_one_person_listed_twice_shares_the_idempotency_key_and_variant_not_the_message_id() -> None:
    """Consent then ends the second in a duplicate receipt; the chain never carries one message id twice in one send."""
    spec = CampaignSpec(**{**SPEC.__dict__, "variants": VariantPlan([Variant("A", 1), Variant("B", 1)])})
    international = row_event(spec, ROW, 0, NOW)
    national = row_event(spec, {**ROW, "recipient": "06 12 34 56 78", "region": "fr"}, 1, NOW)
    assert national.output.value["context"]["idempotency_key"] == international.output.value["context"]["idempotency_key"]
    assert national.variant == international.variant
    assert national.output.value["context"]["message_id"] != international.output.value["context"]["message_id"]
    assert national.output.key == "06 12 34 56 78" and national.output.value["default_region"] == "FR"


def test_the_default_region_reads_national_numbers_and_a_row_region_wins() -> None:
    spec = CampaignSpec(**{**SPEC.__dict__, "default_region": "FR"})
    assert recipient_key("06 12 34 56 78", "FR") == ("+33612345678", None)
    assert row_event(spec, {**ROW, "recipient": "06 12 34 56 78"}, 0, NOW).output.value["default_region"] == "FR"
    assert row_event(spec, {**ROW, "recipient": "07911 123456", "region": "GB"}, 0, NOW).output.value["default_region"] == "GB"


@pytest.mark.parametrize("row, problems", [
    ({"recipient": "not a number"}, ("unparseable_number",)),
    ({"recipient": "0612345678"}, ("unknown_region",)),
    ({"recipient": "+3361234"}, ("impossible_number",)),
    ({"recipient": ""}, ("missing_recipient",)),
    ({"recipient": "+33612345678", "region": "France"}, ("bad_region",)),
    ({"recipient": "+33612345678", "time_zone": "Mars/Olympus"}, ("unknown_time_zone",)),
    ({"recipient": "+33612345678", "time_zone": "Europe/Paris", "locale": "fr-FR"}, ()),
])
def test_what_looks_wrong_in_a_row_is_named_and_the_row_still_goes(row: dict[str, str], problems: tuple[str, ...],
                                                                   assert_valid: Callable[[Any], None]) -> None:
    event = row_event(SPEC, row, 0, NOW)
    assert event.problems == problems
    assert_valid(event.output)
    assert event.output.value["recipient"] == row["recipient"]


def test_reserved_and_empty_columns_are_not_variables() -> None:
    row = {"recipient": "+33612345678", "region": "FR", "locale": "fr-FR", "time_zone": "Europe/Paris", "first_name": "Ava",
           "discount": "", "note": None, "city": " Lyon "}
    value = row_event(SPEC, row, 0, NOW).output.value
    assert value["variables"] == {"first_name": "Ava", "city": " Lyon "}
    assert (value["locale"], value["default_region"]) == ("fr-FR", "FR")


def test_a_variant_sets_the_context_and_may_change_policy_and_template(assert_valid: Callable[[Any], None]) -> None:
    plan = VariantPlan([Variant("A", 1, "SMS"), Variant("B", 1, "RCS_WITH_SMS_FALLBACK", "order_shipped")])
    spec = CampaignSpec(**{**SPEC.__dict__, "variants": plan})
    seen = set()
    for number in range(40):
        event = row_event(spec, {**ROW, "recipient": f"+3361234{number:04d}"}, number, NOW)
        assert_valid(event.output)
        value = event.output.value
        assert value["context"]["variant"] == event.variant == plan.assign("spring-2025", f"+3361234{number:04d}").name
        expected = ("SMS", "promo_spring") if event.variant == "A" else ("RCS_WITH_SMS_FALLBACK", "order_shipped")
        assert (value["channel_policy"], value["template_id"]) == expected
        seen.add(event.variant)
    assert seen == {"A", "B"}


@given(recipient=st.text(max_size=20), campaign=st.text(min_size=1, max_size=20), index=st.integers(0, 10**7))
def test_ids_and_variant_of_a_row_do_not_depend_on_when_it_is_sent(recipient: str, campaign: str, index: int) -> None:
    plan = VariantPlan([Variant("A", 1), Variant("B", 2)])
    spec = CampaignSpec(**{**SPEC.__dict__, "campaign_id": campaign, "variants": plan})
    first = row_event(spec, {"recipient": recipient}, index, NOW)
    later = row_event(spec, {"recipient": recipient}, index, datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert first.output.value["context"]["message_id"] == later.output.value["context"]["message_id"]
    assert first.output.value["context"]["idempotency_key"] == later.output.value["context"]["idempotency_key"]
    assert first.variant == later.variant


def test_a_control_record_fits_the_campaigns_schema(assert_valid: Callable[[Any], None]) -> None:
    record = control_record("spring-2025", "CANCELLED", NOW, template_id="promo_spring", audience="a.csv", variants={"A": 1.0},
                            changed_by="ops")
    assert_valid(record)
    assert (record.topic, record.key, record.value["state"]) == ("campaigns", "spring-2025", "CANCELLED")


def test_columns_missing_names_the_variables_no_column_gives() -> None:
    templates = load()
    promo = templates["promo_spring"]
    assert columns_missing(promo, "SMS", ["recipient", "first_name", "discount"]) == []
    assert columns_missing(promo, "SMS", ["recipient", "first_name"]) == ["discount"]
    assert columns_missing(promo, "RCS_WITH_SMS_FALLBACK", ["recipient"]) == ["first_name", "discount"]
    # A reserved column is not a variable, even when its name matches one.
    assert columns_missing(templates["otp"], "SMS", ["recipient", "locale"]) == ["code"]


def test_consent_ends_a_repeated_listing_in_a_duplicate_and_lets_a_replayed_row_through_as_itself() -> None:
    """The contract with the consent stage's idempotency window: a key's first message is that row's, on every run."""
    from processors.consent.stage import ConsentStage
    from processors.runtime.stage import RecordMeta

    stage = ConsentStage({}, keys={})
    rows = [ROW, {**ROW, "recipient": "06 12 34 56 78", "region": "FR"}]
    events = [row_event(SPEC, row, index, NOW).output for index, row in enumerate(rows)]
    first_id = events[0].value["context"]["message_id"]
    for _run in range(2):  # the send, then a re-run of the same audience
        outcomes = [stage.process(e.value, RecordMeta("send-requested", 0, n, e.key, NOW)) for n, e in enumerate(events)]
        assert not any(o.topic == "receipt" and o.value["status"] == "DUPLICATE" for o in outcomes[0])
        duplicate = [o for o in outcomes[1] if o.topic == "receipt"]
        assert [(o.value["status"], o.value["reason"]) for o in duplicate] == [("DUPLICATE", "duplicate_idempotency_key")]
        assert first_id in duplicate[0].value["detail"]


def test_the_fallback_window_goes_with_the_rows_that_may_fall_back(assert_valid: Callable[[Any], None]) -> None:
    plan = VariantPlan([Variant("A", 1, "SMS"), Variant("B", 1, "RCS_WITH_SMS_FALLBACK")])
    spec = CampaignSpec(**{**SPEC.__dict__, "variants": plan, "sms_fallback_after_s": 90})
    events = [row_event(spec, {**ROW, "recipient": f"+336123456{i:02d}"}, i, NOW) for i in range(40)]
    for event in events:
        assert_valid(event.output)
    windows = {(e.output.value["channel_policy"], e.output.value["sms_fallback_after_s"]) for e in events}
    assert windows == {("SMS", None), ("RCS_WITH_SMS_FALLBACK", 90)}
