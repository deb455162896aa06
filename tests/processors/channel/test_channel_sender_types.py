"""Sender types per country: a recipient is never reached from a sender type its country refuses (the country rules'
``senders``), and a message no allowed pooled sender can carry is rejected, naming why."""
from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.channel.senders import PREFERENCE, SenderPools
from processors.channel.stage import ChannelStage
from processors.consent.countries import SENDER_TYPES, bundled_countries
from processors.runtime.stage import RecordMeta

META = RecordMeta(topic="consent-checked", partition=0, offset=0, key=None, now=datetime(2026, 3, 2, 9, tzinfo=timezone.utc))
COUNTRIES = bundled_countries()
POOL_TYPES = [t.upper() for t in SENDER_TYPES]
# A pool of every SMS sender type in every region the rules name, plus a default: what the rules refuse must be skipped.
EVERY_TYPE = SenderPools.from_mapping({region: {t: [{"sender_id": f"{region}-{t}", "segments_per_second": 1}] for t in POOL_TYPES}
                                      for region in [*COUNTRIES.countries, "default"]})


def test_us_numbers_never_get_an_alphanumeric_sender_even_when_one_is_pooled(checked_event, assert_valid) -> None:
    stage = ChannelStage(EVERY_TYPE, sender_types=COUNTRIES.allows)
    (out,) = stage.process(checked_event("US"), META)
    assert_valid(out)
    assert out.value["sender"]["type"] == "SHORT_CODE"  # alphanumeric is preferred for SMS, but the US refuses it
    (out,) = ChannelStage(EVERY_TYPE).process(checked_event("US"), META)
    assert out.value["sender"]["type"] == "ALPHANUMERIC", "without country rules the preference alone decides"


def test_a_message_no_allowed_sender_can_carry_is_rejected(checked_event, assert_valid) -> None:
    only_alphanumeric = SenderPools.from_mapping({"default": {"ALPHANUMERIC": [{"sender_id": "Brand", "segments_per_second": 10}]}})
    (out,) = ChannelStage(only_alphanumeric, sender_types=COUNTRIES.allows).process(checked_event("US"), META)
    assert_valid(out)
    assert (out.topic, out.value["status"], out.value["reason"]) == ("receipt", "REJECTED", "sender_type_not_allowed")
    assert "US" in out.value["detail"]


@settings(max_examples=200, deadline=None)
@given(region=st.sampled_from(sorted(r for r in COUNTRIES.countries if "-" not in r)))
def test_every_country_gets_only_a_sender_type_it_allows(region: str) -> None:
    allowed = [t for t in PREFERENCE["SMS"] if COUNTRIES.allows(region, t)]
    try:
        chosen = EVERY_TYPE.choose(region, "SMS", "+10000000000", lambda t: COUNTRIES.allows(region, t))
    except LookupError:
        assert not allowed
        return
    assert chosen["type"] in allowed and chosen["type"] == allowed[0]
