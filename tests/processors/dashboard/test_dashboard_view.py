"""The dashboard's figures from ``campaign-status`` rows made by the status stage: deliverability per channel with
the flag under 95 %, reads, clicks per button, fallbacks, transactional flows, A/B verdicts; the rows validate."""
from __future__ import annotations

from datetime import timedelta

from fastavro.validation import validate

import schemas
from processors.dashboard.view import active, figures
from processors.status.logic import MAX_BUTTONS, OTHER_BUTTONS
from tests.processors.dashboard.flows import conversion, message, rows
from tests.processors.status.receipts import T0

SHOP = "https://shop.example/spring"


def campaign_receipts() -> list[dict]:
    """Variant A: 10 SMS (one failed); variant B: 10 RCS, 3 of which fell back to SMS; clicks: 1 in A, 6 in B."""
    receipts = []
    for n in range(10):
        receipts += message(f"a{n}", "spring", "A", "sms-failed" if n == 0 else "sms", [SHOP] if n == 1 else [])
    for n in range(10):
        clicks = [SHOP, "https://shop.example/faq"] if n < 2 else [SHOP] if n < 6 else []
        receipts += message(f"b{n}", "spring", "B", "fallback" if n >= 7 else "rcs", clicks)
    return receipts


def test_a_campaign_adds_up_its_partitions_per_channel_and_flags_low_deliverability() -> None:
    made = rows(campaign_receipts())
    for row in made:
        validate(row, schemas.parsed_schema("CampaignStatus"), raise_errors=True)
    shown = figures("spring", made)
    assert shown is not None and (shown.kind, shown.messages, shown.fallbacks) == ("campaign", 20, 3)
    rcs, sms = shown.channels
    assert (rcs.channel, rcs.sent, rcs.delivered, rcs.not_delivered, rcs.pending) == ("RCS", 10, 7, 3, 0)
    assert rcs.deliverability == 0.7 and rcs.flagged
    assert (sms.channel, sms.sent, sms.delivered, sms.not_delivered) == ("SMS", 13, 12, 1)
    assert round(sms.deliverability or 0, 4) == round(12 / 13, 4) and sms.flagged and shown.flagged
    assert shown.fallback_rate == 0.15
    assert shown.buttons == [(f"link {SHOP}", 7), ("link https://shop.example/faq", 2)]


def test_variants_carry_the_click_rate_verdict_against_the_first() -> None:
    shown = figures("spring", rows(campaign_receipts()))
    assert shown is not None
    a, b = shown.variants
    assert (a.name, a.messages, a.delivered, a.clicked, a.verdict) == ("A", 10, 9, 1, None)
    assert (b.name, b.messages, b.delivered, b.clicked) == ("B", 10, 10, 6)
    assert b.verdict is not None and b.verdict.startswith("not enough data yet")


def test_pending_attempts_do_not_lower_deliverability() -> None:
    receipts = [r for n in range(4) for r in message(f"p{n}", "spring", None, "sms")]
    receipts = [r for r in receipts if not (r["status"] == "DELIVERED" and r["context"]["message_id"] in ("p2", "p3"))]
    (sms,) = figures("spring", rows(receipts)).channels  # type: ignore[union-attr]
    assert (sms.sent, sms.delivered, sms.pending, sms.deliverability, sms.flagged) == (4, 2, 2, 1.0, False)


def test_transactional_messages_without_a_campaign_are_a_flow_and_old_ones_drop_off() -> None:
    flows = rows([*message("t1", None, None, "sms"), *message("s1", "spring", None, "sms")])
    later = T0 + timedelta(hours=1)
    shown = active(flows, later, timedelta(hours=48))
    assert [(f.flow_id, f.kind, f.messages) for f in shown] == [("spring", "campaign", 1), ("flow:api", "flow", 1)]
    assert active(flows, T0 + timedelta(hours=49), timedelta(hours=48)) == []


def test_a_link_previewers_get_is_not_a_click() -> None:
    receipts = message("m1", "spring", None, "sms", [SHOP, SHOP])
    receipts[-1] = {**receipts[-1], "provider_status": "preview_bot", "receipt_id": "bot"}
    shown = figures("spring", rows(receipts))
    assert shown is not None and shown.buttons == [(f"link {SHOP}", 1)]


def test_buttons_past_the_cap_are_counted_together() -> None:
    receipts = [r for n in range(MAX_BUTTONS + 3) for r in message(f"m{n}", "spring", None, "sms", [f"{SHOP}/{n}"])]
    shown = figures("spring", rows(receipts, partitions=1))
    assert shown is not None and len(shown.buttons) == MAX_BUTTONS + 1 and shown.buttons[0] == (OTHER_BUTTONS, 3)


def test_conversions_count_by_event_variant_and_value_on_rows_of_their_own() -> None:
    sold = [conversion("b1", "spring", "B", value_micros=19_990_000), conversion("b2", "spring", "B", value_micros=5_000_000),
            conversion("a1", "spring", "A", event="signup"), conversion("x1", None, None)]  # type: ignore[arg-type]
    made = rows(campaign_receipts(), conversions=sold)
    for row in made:
        validate(row, schemas.parsed_schema("CampaignStatus"), raise_errors=True)
    assert sorted(row["campaign_id"] for row in made if row["conversions"]) == ["spring", "spring"]  # two partitions
    shown = figures("spring", made)
    assert shown is not None and shown.messages == 20  # conversion rows hold no messages
    assert (shown.conversions, shown.conversion_values) == ({"purchase": 2, "signup": 1}, {"EUR": 24_990_000})
    assert [(v.name, v.conversions) for v in shown.variants] == [("A", 1), ("B", 2)]
