"""Receipts → figures, without a broker: the funnel counts messages once per step and channel, copies count once,
cost and segments once per attempt, latency from the request to the first delivery, clicks per link and suggestion."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import given, strategies as st

from processors.analytics.aggregate import FUNNEL, LATENCY_EDGES, Aggregator, percentile
from processors.receipts import receipt

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def context(message_id: str, variant: str | None = "A") -> dict:
    return {"message_id": message_id, "idempotency_key": None, "campaign_id": "c1", "variant": variant, "lane": "MARKETING",
            "subscription_group": "promotions", "requested_at": T0, "source": "campaign", "api_key_id": None}


def r(message_id: str, status: str, after_s: float = 0, **fields: object) -> dict:
    stage = fields.pop("stage", "receipt")
    detail = fields.pop("detail", None)
    return receipt(context(message_id), "+33612345678", status, stage, T0 + timedelta(seconds=after_s), detail=detail,
                   event_id=fields.pop("event_id", None), **fields).value


def test_a_fallback_message_counts_on_both_channels_and_is_billed_per_attempt() -> None:
    agg = Aggregator()
    agg.add_request("m1", "B")
    rcs = {"channel": "RCS", "segments": 1, "cost_micros": 30_000, "currency": "EUR", "provider": "rbm"}
    sms = {"channel": "SMS", "segments": 2, "cost_micros": 90_000, "currency": "EUR", "provider": "smpp", "fallback_reason": "rcs_expired"}
    for receipt_value, arm in [(r("m1", "SENT", 1, **rcs), "B"), (r("m1", "EXPIRED", 5, **rcs), "B"),
                               (r("m1", "SENT", 6, **sms), "B"), (r("m1", "DELIVERED", 8, **sms), "B")]:
        agg.add_receipt(receipt_value, arm)
    summary = agg.summary()
    (arm,) = summary.arms
    assert arm.steps == {"requested": 1, "suppressed": 0, "rejected": 0, "sent": 1, "delivered": 1, "read": 0, "clicked": 0,
                         "failed": 0, "expired": 1}
    assert (arm.fallbacks, arm.segments, arm.cost_micros) == (1, 3, {"EUR": 120_000})
    assert {(a, c): s["sent"] for a, c, s in summary.funnel} == {("B", "RCS"): 1, ("B", "SMS"): 1}
    assert summary.fallback_rate == 1.0 and summary.fallback_reasons == {"rcs_expired": 1}
    (latency,) = summary.latency
    assert (latency.channel, latency.count, latency.p50) == ("SMS", 1, 8.0)
    assert sum(latency.histogram) == 1 and len(latency.histogram) == len(LATENCY_EDGES)


def test_a_receipt_read_twice_counts_once_and_a_message_seen_only_by_receipt_is_requested() -> None:
    agg = Aggregator()
    delivered = r("m2", "DELIVERED", 3, channel="SMS", segments=1, cost_micros=45_000, currency="EUR")
    for _ in range(2):
        agg.add_receipt(delivered, "A")
    agg.add_receipt(r("m3", "REJECTED", 0, reason="invalid_number"), "A")
    summary = agg.summary()
    assert summary.receipts == 3 and summary.messages == 2  # receipts read, the copy included
    (arm,) = summary.arms
    assert (arm.steps["requested"], arm.steps["delivered"], arm.steps["rejected"], arm.cost_micros) == (2, 1, 1, {"EUR": 45_000})
    assert ("A", "none", {**{s: 0 for s in FUNNEL[1:]}, "rejected": 1}) in summary.funnel
    assert summary.fallback_rate == 0.0  # one message left on a channel, without a fallback


def test_channel_rates_and_clicks_per_link_and_rcs_suggestion() -> None:
    agg = Aggregator()
    for n in range(4):
        agg.add_receipt(r(f"s{n}", "SENT", 1, channel="SMS"), "A")
    for n in range(3):
        agg.add_receipt(r(f"s{n}", "DELIVERED", 2, channel="SMS"), "A")
    agg.add_receipt(r("s0", "CLICKED", 30, channel="SMS", stage="links", detail="https://shop.example/a"), "A")
    agg.add_receipt(r("s0", "CLICKED", 40, channel="SMS", stage="links", detail="https://shop.example/a"), "A")  # a second click
    agg.add_receipt(r("s1", "CLICKED", 30, channel="SMS", stage="links", detail="https://shop.example/a"), "A")
    agg.add_receipt(r("g0", "SENT", 1, channel="RCS"), "B")
    agg.add_receipt(r("g0", "DELIVERED", 2, channel="RCS"), "B")
    agg.add_receipt(r("g0", "READ", 3, channel="RCS"), "B")
    agg.add_receipt(r("g0", "CLICKED", 4, channel="RCS", provider="rbm", event_id="tap-1"), "B")
    agg.add_receipt(r("g0", "CLICKED", 5, channel="RCS", provider="rbm", event_id="tap-2", reason="button:1"), "B")  # named
    summary = agg.summary()
    rates = {c.channel: (c.sent, c.delivered, c.read, c.delivery_rate, c.read_rate) for c in summary.channels}
    assert rates == {"RCS": (1, 1, 1, 1.0, 1.0), "SMS": (4, 3, 0, 0.75, 0.0)}
    clicks = {(c.kind, c.target): (c.clicks, c.messages) for c in summary.clicks}
    assert clicks == {("link", "https://shop.example/a"): (3, 2), ("rcs suggestion", "rbm (button not recorded on receipts)"): (1, 1),
                      ("rcs suggestion", "button:1"): (1, 1)}
    assert [a.arm for a in summary.arms] == ["A", "B"]


def test_deferred_and_unknown_are_counted_apart_from_the_funnel() -> None:
    agg = Aggregator()
    agg.add_receipt(r("m", "DEFERRED", 0), "A")
    agg.add_receipt(r("m", "UNKNOWN", 9, channel="SMS"), "A")
    (arm,) = agg.summary().arms
    assert arm.other == {"DEFERRED": 1, "UNKNOWN": 1} and arm.steps["sent"] == 0


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1), st.integers(min_value=1, max_value=100))
def test_a_percentile_is_a_value_that_occurred_with_at_least_that_share_at_or_below_it(values: list[float], pct: int) -> None:
    ordered = sorted(values)
    found = percentile(ordered, pct)
    assert found in ordered
    assert sum(1 for v in ordered if v <= found) * 100 >= pct * len(ordered)


@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["SENT", "DELIVERED", "READ", "FAILED"]),
                          st.sampled_from(["SMS", "RCS"])), max_size=60))
def test_no_arm_counts_a_step_for_more_messages_than_it_has(events: list[tuple[str, str, str]]) -> None:
    agg = Aggregator()
    for n, (arm, status, channel) in enumerate(events):
        agg.add_receipt(r(f"{arm}-{n % 7}", status, n, channel=channel, event_id=str(uuid.uuid4())), arm)
    for totals in agg.summary().arms:
        assert all(count <= totals.steps["requested"] for count in totals.steps.values())
