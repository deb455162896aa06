"""Progressive rollout without a broker: places, slices, steps that refuse to go backwards, saved settings."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from processors.campaigns.logic import CampaignSpec, row_event
from processors.campaigns.rollout import FULL, RolloutError, Slice, extension, first, place
from processors.campaigns.saved import dump, load
from processors.campaigns.variants import Variant, VariantPlan

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
SPEC = CampaignSpec(campaign_id="spring-2025", template_id="promo_spring", policy="SMS", subscription_group="promotions")
PEOPLE = [f"+3361{n:07d}" for n in range(10_000)]


def test_places_are_fixed_per_campaign_and_spread_evenly() -> None:
    assert place("c1", "+33612345678") == place("c1", "+33612345678")
    assert place("c1", "+33612345678") != place("c2", "+33612345678")
    below_ten = sum(place("c1", p) < 10 for p in PEOPLE)
    assert 900 <= below_ten <= 1100  # 10 % of 10,000 within sampling noise


def test_steps_partition_the_audience_so_nobody_is_in_two() -> None:
    steps = [first(10), extension(10, 35.5), extension(35.5, FULL)]
    membership = [sum(step.holds("c1", p) for step in steps) for p in PEOPLE]
    assert set(membership) == {1}


@pytest.mark.parametrize("value", [0, -5, 100.5, float("nan")])
def test_a_percentage_outside_0_100_is_refused(value: float) -> None:
    with pytest.raises(RolloutError, match="above 0 and at most 100"):
        first(value)


def test_an_extension_must_go_beyond_what_was_sent() -> None:
    with pytest.raises(RolloutError, match="already went to 20 %"):
        extension(20, 20)
    with pytest.raises(RolloutError, match="nobody left"):
        extension(100, 100)
    assert extension(0, 100) == Slice(0, 100) and Slice(0, 100).whole


def test_row_event_leaves_out_the_rows_outside_the_sample_and_keeps_ids() -> None:
    sampled = replace(SPEC, sample=first(30))
    kept = [i for i, p in enumerate(PEOPLE[:500]) if row_event(sampled, {"recipient": p}, i, NOW) is not None]
    assert kept == [i for i, p in enumerate(PEOPLE[:500]) if place(SPEC.campaign_id, p) < 30]
    whole = row_event(SPEC, {"recipient": PEOPLE[kept[0]]}, kept[0], NOW)
    part = row_event(sampled, {"recipient": PEOPLE[kept[0]]}, kept[0], NOW)
    assert whole is not None and part is not None and whole.output.value == part.output.value


def test_saved_settings_give_back_the_same_spec_without_its_sample() -> None:
    spec = CampaignSpec(campaign_id="c", template_id="t", policy="RCS_WITH_SMS_FALLBACK", subscription_group="g",
                        variants=VariantPlan([Variant("A", 1, "SMS"), Variant("B", 2, None, "promo_b")]),
                        send_at=NOW, validity_seconds=3600, default_region="FR", sms_fallback_after_s=60, sample=first(10))
    back = load(dump(spec))
    assert back.sample is None
    assert replace(back, variants=None) == replace(spec, variants=None, sample=None)
    assert back.variants is not None and back.variants.variants == spec.variants.variants  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["not json", "{}", '{"version": 1, "unknown": 1}'])
def test_settings_it_did_not_write_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="saved settings"):
        load(text)
