"""Frequency caps: the sliding window, one count per message id, the caps file, and the view merging the table with own writes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from common.config import Settings
from processors.consent.frequency import (
    DEFAULT_CAP, MAX_WINDOW, Cap, FrequencyCapError, RecentSends, admit, limit_release, load_caps,
)
from processors.rules.numbers import Refusal
from processors.runtime.stage import Output
from topology.topics import topic

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
E164, GROUP = "+33612345678", "promotions"
WEEK = Cap(3, timedelta(days=7))


def record(*sends: tuple[str, datetime]) -> dict:
    return {"e164": E164, "subscription_group": GROUP, "sends": [{"message_id": m, "sent_at": t} for m, t in sends],
            "updated_at": NOW}


def sends_of(output: Output | Refusal) -> list[str]:
    assert isinstance(output, Output)
    return [s["message_id"] for s in output.value["sends"]]


def test_the_first_message_starts_the_record(assert_valid) -> None:
    out = admit(None, E164, GROUP, "m-1", WEEK, NOW)
    assert isinstance(out, Output)
    assert_valid(out)
    assert (out.topic, out.key) == ("frequency", "+33612345678|promotions")
    assert out.value == record(("m-1", NOW))


def test_the_cap_counts_messages_within_the_window() -> None:
    two = record(("a", NOW - timedelta(days=6)), ("b", NOW - timedelta(hours=1)))
    assert sends_of(admit(two, E164, GROUP, "c", WEEK, NOW)) == ["a", "b", "c"]
    three = record(("a", NOW - timedelta(days=6)), ("b", NOW - timedelta(hours=1)), ("c", NOW - timedelta(minutes=1)))
    refused = admit(three, E164, GROUP, "d", WEEK, NOW)
    assert refused == Refusal("frequency_cap", "3 marketing messages of subscription group 'promotions' within 7 days, the cap is 3")


def test_sends_older_than_the_window_no_longer_count_and_are_dropped() -> None:
    old = record(("a", NOW - timedelta(days=7)), ("b", NOW - timedelta(days=8)), ("c", NOW - timedelta(days=1)))
    assert sends_of(admit(old, E164, GROUP, "d", WEEK, NOW)) == ["c", "d"]


def test_a_message_seen_again_counts_once() -> None:
    full = record(("a", NOW - timedelta(days=2)), ("b", NOW - timedelta(days=1)), ("c", NOW - timedelta(hours=1)))
    assert sends_of(admit(full, E164, GROUP, "b", WEEK, NOW)) == ["a", "b", "c"]


def test_the_record_keeps_no_more_sends_than_the_cap_needs() -> None:
    one = Cap(1, timedelta(days=7))
    out = admit(record(("a", NOW - timedelta(days=8))), E164, GROUP, "b", one, NOW)
    assert sends_of(out) == ["b"]
    # A cap lowered since: the newest sends are kept, as many as the cap.
    assert admit(record(("a", NOW - timedelta(days=2)), ("b", NOW - timedelta(days=1))), E164, GROUP, "c", one, NOW).reason == "frequency_cap"


def test_no_cap_counts_nothing() -> None:
    with pytest.raises(ValueError, match="nothing to count"):
        admit(None, E164, GROUP, "m", Cap(0, timedelta(days=7)), NOW)


def test_a_country_limit_widens_what_the_record_keeps_and_counts_without_a_cap() -> None:
    day = timedelta(hours=24)
    sent = record(("a", NOW - timedelta(days=2)), ("b", NOW - timedelta(hours=3)), ("c", NOW - timedelta(hours=2)))
    # No group cap: nothing refused, the sends within the limit's window kept, as many as the limit needs.
    assert sends_of(admit(sent, E164, GROUP, "d", None, NOW, keep=(3, day))) == ["b", "c", "d"]
    assert sends_of(admit(sent, E164, GROUP, "d", Cap(0, day), NOW, keep=(2, day))) == ["c", "d"]
    # A cap of one a day and a limit of three a week: the cap refuses, the record keeps three.
    assert admit(sent, E164, GROUP, "d", Cap(1, day), NOW, keep=(3, timedelta(days=7))).reason == "frequency_cap"
    assert sends_of(admit(record(("a", NOW - timedelta(days=2))), E164, GROUP, "d", Cap(1, day), NOW, keep=(3, timedelta(days=7)))) == ["a", "d"]


def test_a_limit_releases_when_the_oldest_counted_send_leaves_its_window() -> None:
    day = timedelta(hours=24)
    sent = record(("a", NOW - timedelta(hours=5)), ("b", NOW - timedelta(hours=3)), ("c", NOW - timedelta(hours=2)))
    assert limit_release(sent, 3, day, "d", NOW) == NOW - timedelta(hours=5) + day
    assert limit_release(sent, 2, day, "d", NOW) == NOW - timedelta(hours=3) + day
    assert limit_release(sent, 4, day, "d", NOW) is None
    assert limit_release(sent, 3, day, "b", NOW) is None  # counted already: a redelivery goes
    assert limit_release(None, 1, day, "d", NOW) is None
    # At the release instant the oldest has left: one more fits.
    assert limit_release(sent, 3, day, "d", NOW - timedelta(hours=5) + day) is None


@pytest.mark.parametrize(("max_messages", "window", "message"), [
    (-1, timedelta(days=7), "0 \\(no cap\\) or more"),
    (3, timedelta(0), "more than 0"),
    (3, MAX_WINDOW + timedelta(seconds=1), "at most 30 days"),
])
def test_caps_are_bounded(max_messages: int, window: timedelta, message: str) -> None:
    with pytest.raises(FrequencyCapError, match=message):
        Cap(max_messages, window)


def test_the_frequency_topic_outlives_the_longest_window() -> None:
    declared = topic("frequency")
    assert declared.compacted and declared.retention_ms > MAX_WINDOW / timedelta(milliseconds=1)


def test_the_settings_default_cap_is_the_code_default() -> None:
    settings = Settings()
    assert Cap(settings.frequency_cap_max, timedelta(days=settings.frequency_cap_window_days)) == DEFAULT_CAP


def test_the_bundled_caps() -> None:
    caps = load_caps()
    assert caps.cap("newsletter") == Cap(1, timedelta(days=7))
    assert caps.cap("promotions") == DEFAULT_CAP


def test_a_caps_file_over_a_default(tmp_path: Path) -> None:
    path = tmp_path / "caps.toml"
    path.write_text("[groups.alerts]\nmax_messages = 0\nwindow_days = 1\n\n[groups.weekly]\nmax_messages = 2\nwindow_days = 0.5\n")
    caps = load_caps(path, Cap(5, timedelta(days=30)))
    assert caps.cap("alerts").max_messages == 0
    assert caps.cap("weekly") == Cap(2, timedelta(hours=12))
    assert caps.cap("other") == Cap(5, timedelta(days=30))


@pytest.mark.parametrize(("text", "message"), [
    ("[groups.a]\nmax_messages = 3\n", "needs exactly max_messages and window_days"),
    ("[groups.a]\nmax_messages = 3\nwindow_days = 7\nper = 'day'\n", "needs exactly"),
    ("[groups.a]\nmax_messages = 3\nwindow_days = 31\n", "groups.a: the window must be"),
    ("[groups.a]\nmax_messages = 'three'\nwindow_days = 7\n", "groups.a"),
    ("[groups.a\n", "cannot read frequency caps"),
])
def test_a_bad_caps_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "caps.toml"
    path.write_text(text)
    with pytest.raises(FrequencyCapError, match=message):
        load_caps(path)


def frequency_output(key: str, *ids: str) -> Output:
    return Output("frequency", key, {**record(*((i, NOW) for i in ids)), "e164": key.split("|")[0]})


def test_the_view_shows_own_writes_before_the_table_does() -> None:
    table: dict = {}
    view = RecentSends(table)
    key = f"{E164}|{GROUP}"
    assert view.get(key) is None
    view.remember([Output("receipt", E164, {}), frequency_output(key, "a")])
    assert [s["message_id"] for s in view[key]["sends"]] == ["a"]
    table[key] = record(("a", NOW), ("z", NOW))  # another instance's write went round the broker meanwhile
    view.remember([frequency_output(key, "a", "b")])
    assert sorted(s["message_id"] for s in view[key]["sends"]) == ["a", "b", "z"]
    assert set(view) == {key} and len(view) == 1
    table["+33600000000|x"] = record()
    assert view["+33600000000|x"] == record() and len(view) == 2


def test_own_writes_are_forgotten_once_the_table_shows_them() -> None:
    table: dict = {}
    view = RecentSends(table)
    for i in range(1500):
        key = f"+336000{i:05d}|g"
        view.remember([frequency_output(key, f"m{i}")])
        if i < 1000:
            table[key] = frequency_output(key, f"m{i}").value
    assert len(view._written) == 500  # the prune at 1,024 dropped what the table showed
    assert len(view) == 1500
