"""The last check before submit: an opt-out or a campaign cancel that arrived after the consent stage still stops a message."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from processors.dispatch import gate

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
E164 = "+33612345678"


def rendered(lane: str = "MARKETING", group: str | None = "promotions", campaign: str | None = "spring") -> dict:
    return {
        "context": {"message_id": "m1", "idempotency_key": None, "campaign_id": campaign, "variant": None, "lane": lane,
                    "subscription_group": group, "requested_at": NOW - timedelta(minutes=5), "source": "test"},
        "recipient": {"e164": E164, "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"},
        "channel": "SMS", "fallback_reason": None,
        "sender": {"sender_id": "COURRIER", "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": 10.0},
        "template_id": "promo", "sms": {"text": "Sale", "encoding": "GSM7", "segments": 1, "units": 4},
        "rcs_json": None, "media_urls": [], "expires_at": None,
    }


def consent(status: str, source: str = "keyword") -> dict:
    return {"e164": E164, "subscription_group": "promotions", "status": status, "basis": "MARKETING", "source": source,
            "evidence": "STOP", "changed_at": NOW - timedelta(seconds=3)}


def campaign(state: str) -> dict:
    return {"campaign_id": "spring", "state": state, "template_id": "promo", "audience": None, "variants": {},
            "changed_by": "ops@example.com", "changed_at": NOW - timedelta(seconds=1)}


OPTED_IN = {f"{E164}|promotions": consent("OPTED_IN", "form")}
OPTED_OUT = {f"{E164}|promotions": consent("OPTED_OUT")}


def test_an_opted_in_marketing_message_of_an_active_campaign_goes() -> None:
    assert gate.check(rendered(), OPTED_IN, {"spring": campaign("ACTIVE")}, NOW) is None


def test_a_marketing_message_after_stop_is_suppressed(assert_valid) -> None:
    refused = gate.check(rendered(), OPTED_OUT, {}, NOW)
    assert refused is not None and refused.topic == "receipt" and refused.key == E164
    value = refused.value
    assert (value["status"], value["reason"], value["stage"], value["terminal"]) == ("SUPPRESSED", "opted_out", "dispatch", True)
    assert "via keyword" in value["detail"] and "before submit" in value["detail"]
    assert_valid(refused)


def test_a_marketing_message_whose_opt_in_is_gone_is_suppressed() -> None:
    refused = gate.check(rendered(), {}, {}, NOW)
    assert refused is not None and refused.value["reason"] == "no_consent"


@pytest.mark.parametrize("consents", [OPTED_OUT, {}])
def test_transactional_messages_pass_whatever_the_marketing_consent(consents: dict) -> None:
    stop_confirmation = rendered(lane="TRANSACTIONAL", group=None, campaign=None)
    assert gate.check(stop_confirmation, consents, {}, NOW) is None


@pytest.mark.parametrize("lane", ["MARKETING", "TRANSACTIONAL"])
def test_a_cancelled_campaign_stops_its_messages_in_every_lane(lane: str, assert_valid) -> None:
    refused = gate.check(rendered(lane=lane), OPTED_IN, {"spring": campaign("CANCELLED")}, NOW)
    assert refused is not None
    assert (refused.value["status"], refused.value["reason"]) == ("SUPPRESSED", "campaign_cancelled")
    assert "ops@example.com" in refused.value["detail"]
    assert_valid(refused)


def test_another_campaigns_cancel_does_not_matter() -> None:
    assert gate.check(rendered(), OPTED_IN, {"autumn": {**campaign("CANCELLED"), "campaign_id": "autumn"}}, NOW) is None
