"""Sender pools: the shipped data, the type chosen per channel, stickiness and the default pool."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from processors.channel.senders import DEFAULT_POOLS, PooledSender, SenderPools, sticky
from processors.channel.stage import ChannelStage
from processors.runtime.stage import RecordMeta

POOLS = SenderPools.load()
META = RecordMeta(topic="consent-checked", partition=0, offset=0, key="k", now=datetime(2026, 3, 2, tzinfo=timezone.utc))
E164S = st.from_regex(r"\+[1-9][0-9]{7,13}", fullmatch=True)


def test_shipped_pools_cover_the_regions_and_a_default() -> None:
    assert {"FR", "SE", "US", "CA", "GB", "DE", "default"} <= set(POOLS.pools)
    us = POOLS.pools["US"]
    assert us["SHORT_CODE"] == (PooledSender("12345", 100.0),)
    assert us["TOLL_FREE"][0].segments_per_second == 3.0
    assert {s.segments_per_second for s in us["LONG_CODE"]} == {1.0}
    assert POOLS.pools["FR"]["ALPHANUMERIC"] == (PooledSender("COURRIER", 10.0),)


@pytest.mark.parametrize(("region", "channel", "sender_type", "rate"), [
    ("FR", "SMS", "ALPHANUMERIC", 10.0),
    ("US", "SMS", "SHORT_CODE", 100.0),
    ("US", "MMS", "LONG_CODE", 1.0),
    ("CA", "MMS", "LONG_CODE", 1.0),
    ("SE", "RCS", "RCS_AGENT", 50.0),
    ("JP", "SMS", "LONG_CODE", 1.0),   # no JP pool: the default one
    ("JP", "RCS", "RCS_AGENT", 50.0),
])
def test_sender_type_per_channel(region: str, channel: str, sender_type: str, rate: float) -> None:
    sender = POOLS.choose(region, channel, "+819012345678")
    assert (sender["type"], sender["segments_per_second"], sender["country"]) == (sender_type, rate, region)


def test_mms_is_one_segment_per_second_even_from_a_faster_long_code() -> None:
    pools = SenderPools({"US": {"LONG_CODE": (PooledSender("+12025550109", 10.0),)}})
    assert pools.choose("US", "SMS", "+12015550123")["segments_per_second"] == 10.0
    assert pools.choose("US", "MMS", "+12015550123")["segments_per_second"] == 1.0


def test_stage_output_carries_the_sender(checked_event, assert_valid) -> None:
    out = ChannelStage().process(checked_event("US", channel_policy="MMS"), META)[0]
    assert_valid(out)
    assert out.value["sender"]["sender_id"] in {"+12025550101", "+12025550102", "+12025550103"}
    assert out.value["sender"] == POOLS.choose("US", "MMS", "+12015550123")


@settings(max_examples=200, deadline=None)
@given(e164=E164S)
def test_sticky_is_deterministic_and_from_the_pool(e164: str) -> None:
    first = POOLS.choose("US", "MMS", e164)
    assert POOLS.choose("US", "MMS", e164) == first
    assert SenderPools.load().choose("US", "MMS", e164) == first  # a fresh load (another process) agrees
    assert first["sender_id"] in {s.sender_id for s in POOLS.pools["US"]["LONG_CODE"]}


def test_sticky_spreads_recipients_over_the_pool() -> None:
    pool = tuple(PooledSender(f"+1202555010{i}", 1.0) for i in range(4))
    counts = {s.sender_id: 0 for s in pool}
    for n in range(4000):
        counts[sticky(f"+1201555{n:04d}", pool).sender_id] += 1
    assert all(700 < c < 1300 for c in counts.values()), counts


def test_growing_a_pool_moves_only_recipients_to_the_new_sender() -> None:
    small = tuple(PooledSender(f"+1202555010{i}", 1.0) for i in range(3))
    grown = small + (PooledSender("+12025550109", 1.0),)
    recipients = [f"+1201555{n:04d}" for n in range(2000)]
    moved = [r for r in recipients if sticky(r, small) != sticky(r, grown)]
    assert all(sticky(r, grown).sender_id == "+12025550109" for r in moved)
    assert 300 < len(moved) < 700  # about a quarter


def test_no_sender_anywhere_is_a_configuration_error() -> None:
    with pytest.raises(LookupError, match="no MMS sender for region FR"):
        SenderPools({"FR": {"ALPHANUMERIC": (PooledSender("X", 1.0),)}}).choose("FR", "MMS", "+33612345678")


@pytest.mark.parametrize(("content", "message"), [
    ({"FR": {"PIGEON": [{"sender_id": "x", "segments_per_second": 1}]}}, "unknown sender types"),
    ({"FR": {"LONG_CODE": [{"sender_id": "x", "segments_per_second": 0}]}}, "must be positive"),
])
def test_bad_pool_files_are_refused_at_load(tmp_path: Path, content: dict, message: str) -> None:
    path = tmp_path / "senders.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message):
        SenderPools.load(path)


def test_comment_keys_are_ignored() -> None:
    assert "_doc" in json.loads(DEFAULT_POOLS.read_text()) and "_doc" not in POOLS.pools
