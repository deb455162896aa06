"""`courrier replay`'s decisions without a broker: bounds, filters, the target topic from the topology, resuming."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from courrier.replay import (
    Bound, Filter, ReplayError, Request, Span, Summary, parse_bound, parse_filter, parse_resume, resumed, stage_inputs, target_topic,
)
from processors.catalog import STAGE_NAMES
from topology.topics import topic

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def test_bounds_are_offsets_times_or_now() -> None:
    assert parse_bound("120", "--from", NOW) == Bound(offset=120)
    assert parse_bound("now", "--to", NOW) == Bound(time=NOW)
    assert parse_bound("2026-12-07T08:00:00Z", "--from", NOW).time == datetime(2026, 12, 7, 8, tzinfo=timezone.utc)
    assert parse_bound("2026-12-07T09:00:00+01:00", "--from", NOW).time == datetime(2026, 12, 7, 8, tzinfo=timezone.utc)
    assert parse_bound("2026-12-07 08:00", "--from", NOW).time == datetime(2026, 12, 7, 8, tzinfo=timezone.utc), "naive is UTC"
    with pytest.raises(ReplayError, match="--from 'yesterday'"):
        parse_bound("yesterday", "--from", NOW)


def test_filters_look_where_each_topic_keeps_the_field() -> None:
    assert parse_filter("campaign=spring") == Filter("campaign", "spring")
    rendered = {"context": {"campaign_id": "spring"}, "recipient": {"e164": "+33612345678"}}
    assert parse_filter("campaign=spring").matches(rendered) and not parse_filter("campaign=fall").matches(rendered)
    assert parse_filter("recipient=+33612345678").matches(rendered)
    assert parse_filter("recipient=+33612345678").matches({"recipient": "+33612345678"}), "send-requested: as given"
    assert parse_filter("status=FAILED").matches({"status": "FAILED"})
    for bad in ("campaign", "colour=red", "status="):
        with pytest.raises(ReplayError, match="NAME=VALUE"):
            parse_filter(bad)


def test_the_stage_inputs_come_from_the_topology() -> None:
    assert [t.name for t in stage_inputs("consent")] == ["send-requested", "send-requested-transactional"], "its tables are not inputs"
    assert {t.name for t in stage_inputs("dispatch")} == {"rendered", "rendered-transactional"}
    assert target_topic("send-requested", "consent", STAGE_NAMES) == "send-requested"
    assert target_topic("rendered-transactional", "dispatch", STAGE_NAMES) == "rendered-transactional"
    assert target_topic("dispatched", "receipt", STAGE_NAMES) == "dispatched"
    assert target_topic("unmatched-reports", "receipt", STAGE_NAMES) == "provider-events", "same records, the stage's topic"
    with pytest.raises(ReplayError, match="no stage 'nosuch'; choose one of consent"):
        target_topic("rendered", "nosuch", STAGE_NAMES)
    with pytest.raises(ReplayError, match="'nosuch' is not declared"):
        target_topic("nosuch", "dispatch", STAGE_NAMES)
    with pytest.raises(ReplayError, match="stage consent does not read records like rendered's .* it reads send-requested"):
        target_topic("rendered", "consent", STAGE_NAMES)
    assert topic("submissions").compacted


def test_a_resume_goes_on_within_the_range_and_its_command_pins_the_end() -> None:
    spans = [Span(0, 10, 20), Span(1, 0, 5)]
    assert resumed(spans, parse_resume("0:15")) == [Span(0, 15, 20), Span(1, 0, 5)]
    with pytest.raises(ReplayError, match="outside that partition's range"):
        resumed(spans, {1: 6})
    with pytest.raises(ReplayError, match="PARTITION:OFFSET"):
        parse_resume("0=15")
    request = Request(topic="rendered", start="2026-12-07T08:00:00Z", end="now", into="dispatch", filters=("campaign=spring sale",))
    assert request.command({1: 3, 0: 15}, end="2026-12-07T09:00:00.000Z") == (
        "courrier replay --topic rendered --from 2026-12-07T08:00:00Z --to 2026-12-07T09:00:00.000Z --into dispatch "
        "--filter 'campaign=spring sale' --resume 0:15,1:3")


def test_the_summary_counts_per_target_campaign_and_status() -> None:
    summary = Summary("r", "rendered")
    for value in ({"context": {"campaign_id": "spring"}}, {"context": {"campaign_id": "spring"}}, {"context": {"campaign_id": None}}):
        summary.count(value)
    assert summary.counts == {("rendered", "spring", "-"): 2, ("rendered", "-", "-"): 1} and summary.total == 3
