"""A/B variants: specs parsed or refused by name, assignment fixed by (campaign, recipient), shares as weighted."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from processors.campaigns.variants import Variant, VariantError, VariantPlan, bucket, parse_variant

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,10}", fullmatch=True)
weights = st.floats(min_value=0.5, max_value=100, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("spec, expected", [
    ("A=50", Variant("A", 50.0)),
    ("B=30:rcs_with_sms_fallback", Variant("B", 30.0, "RCS_WITH_SMS_FALLBACK")),
    ("sms_arm=1.5:SMS", Variant("sms_arm", 1.5, "SMS")),
    ("C=2:policy=mms:template=promo_b", Variant("C", 2.0, "MMS", "promo_b")),
    ("D=1:template=promo_b", Variant("D", 1.0, None, "promo_b")),
])
def test_a_spec_gives_name_weight_policy_and_template(spec: str, expected: Variant) -> None:
    assert parse_variant(spec) == expected


@pytest.mark.parametrize("spec, fragment", [
    ("A", "NAME=WEIGHT"),
    ("=5", "NAME=WEIGHT"),
    ("A B=5", "NAME=WEIGHT"),
    ("A=x", "not a number"),
    ("A=0", "positive"),
    ("A=-3", "positive"),
    ("A=nan", "positive"),
    ("A=inf", "positive"),
    ("A=5:fax", "neither a policy"),
    ("A=5:template=", "neither a policy"),
])
def test_a_bad_spec_names_its_problem(spec: str, fragment: str) -> None:
    with pytest.raises(VariantError, match=fragment):
        parse_variant(spec)


def test_a_plan_needs_variants_with_distinct_names() -> None:
    with pytest.raises(VariantError, match="at least one"):
        VariantPlan([])
    with pytest.raises(VariantError, match="A given twice"):
        VariantPlan([Variant("A", 1), Variant("B", 1), Variant("A", 2)])


def test_the_bucket_of_a_recipient_never_changes() -> None:
    """Pinned: a change of the hash would move recipients to other variants between a send and its replay."""
    assert bucket("spring-2025", "+33612345678") == 0.09173073816363768
    assert bucket("c", "x") == 0.5319340022426423


def test_shares_split_the_unit_interval_in_the_order_given() -> None:
    plan = VariantPlan([Variant("A", 1), Variant("B", 3)])
    assert plan.pick(0.0).name == "A" and plan.pick(0.2499).name == "A"
    assert plan.pick(0.25).name == "B" and plan.pick(math.nextafter(1.0, 0.0)).name == "B"
    assert plan.share("B") == 0.75 and plan.weights() == {"A": 1.0, "B": 3.0}


@given(campaign=st.text(max_size=30), recipient=st.text(max_size=30))
def test_a_bucket_is_a_point_of_the_unit_interval_fixed_by_campaign_and_recipient(campaign: str, recipient: str) -> None:
    point = bucket(campaign, recipient)
    assert 0.0 <= point < 1.0
    assert bucket(campaign, recipient) == point


@given(arms=st.lists(st.tuples(names, weights), min_size=1, max_size=6, unique_by=lambda arm: arm[0]),
       campaign=st.text(min_size=1, max_size=20), recipients=st.lists(st.text(max_size=16), max_size=30))
def test_assignment_is_a_function_of_campaign_and_recipient_only(arms: list[tuple[str, float]], campaign: str,
                                                                recipients: list[str]) -> None:
    variants = [Variant(name, weight) for name, weight in arms]
    first = {r: VariantPlan(variants).assign(campaign, r).name for r in recipients}
    # A new plan (another process, a replay) visiting the recipients in another order assigns the same variants.
    again = VariantPlan(variants)
    assert {r: again.assign(campaign, r).name for r in reversed(recipients)} == first


@settings(max_examples=25, deadline=None)
@given(arms=st.lists(weights, min_size=2, max_size=5), campaign=st.text(min_size=1, max_size=12))
def test_each_variant_gets_its_weighted_share_of_recipients(arms: list[float], campaign: str) -> None:
    count = 20_000
    plan = VariantPlan([Variant(f"v{i}", weight) for i, weight in enumerate(arms)])
    seen: dict[str, int] = {}
    for number in range(count):
        name = plan.assign(campaign, f"+3361{number:07d}").name
        seen[name] = seen.get(name, 0) + 1
    for variant in plan.variants:
        expected = plan.share(variant.name)
        # Five binomial standard deviations: a correct assignment fails this about once in 3.5 million checks.
        tolerance = 5 * math.sqrt(expected * (1 - expected) / count)
        assert abs(seen.get(variant.name, 0) / count - expected) <= tolerance, (variant, seen)


def test_campaigns_assign_independently() -> None:
    """The same recipients split afresh per campaign: a recipient in A for one campaign is not always in A for the next."""
    plan = VariantPlan([Variant("A", 1), Variant("B", 1)])
    recipients = [f"+3361{n:07d}" for n in range(4000)]
    first = [plan.assign("c1", r).name for r in recipients]
    second = [plan.assign("c2", r).name for r in recipients]
    agreeing = sum(a == b for a, b in zip(first, second)) / len(recipients)
    assert 0.45 < agreeing < 0.55
