"""Clicks per button without a broker: unique, repeats, bots (marked, or within a second of delivery), duplicates."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from processors.conversions.clicks import ButtonClicks, button, count
from processors.receipts import receipt

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)


def ctx(message_id: str, variant: str = "A") -> dict:
    return {"message_id": message_id, "idempotency_key": None, "campaign_id": "spring", "variant": variant, "lane": "MARKETING",
            "subscription_group": "promotions", "requested_at": T0, "source": "campaign"}


def delivered(message_id: str, seconds: float, variant: str = "A") -> dict:
    return receipt(ctx(message_id, variant), "+33612345678", "DELIVERED", "receipt", T0 + timedelta(seconds=seconds)).value


def click(message_id: str, seconds: float, token: str = "tokA00000000", variant: str = "A", bot: bool = False) -> dict:
    when = T0 + timedelta(seconds=seconds)
    return receipt(ctx(message_id, variant), "+33612345678", "CLICKED", "links", when, reason=f"link:{token}", detail="https://x.test",
                   provider_status="preview_bot" if bot else None, event_id=f"click:{token}:{when.isoformat()}").value


def test_unique_repeats_and_bots_per_button_and_variant() -> None:
    receipts = [
        delivered("m1", 10), click("m1", 10.4),  # a preview fetched at delivery: a bot
        click("m1", 60), click("m1", 90), click("m1", 95, token="tokB00000000"),  # first, repeat, another button's first
        delivered("m2", 10, "B"), click("m2", 30, variant="B", bot=True), click("m2", 40, variant="B"),
    ]
    assert count(receipts) == [
        ButtonClicks("spring", "A", "link:tokA00000000", unique=1, repeats=1, bots=1),
        ButtonClicks("spring", "A", "link:tokB00000000", unique=1, repeats=0, bots=0),
        ButtonClicks("spring", "B", "link:tokA00000000", unique=1, repeats=0, bots=1),
    ]


def test_order_does_not_matter_and_a_receipt_read_twice_counts_once() -> None:
    receipts = [click("m1", 60), click("m1", 60), click("m1", 9.5), delivered("m1", 10)]  # the click before the report: a bot
    assert count(receipts) == [ButtonClicks("spring", "A", "link:tokA00000000", unique=1, repeats=0, bots=1)]
    assert count(list(reversed(receipts))) == count(receipts)


def test_a_click_naming_no_button_counts_under_its_kind() -> None:
    rcs = receipt(ctx("m3"), "+33612345678", "CLICKED", "receipt", T0).value
    assert button(rcs) == "rcs suggestion"
    assert button({**rcs, "reason": "button:2"}) == "button:2"
