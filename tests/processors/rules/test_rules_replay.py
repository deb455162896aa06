"""The replay headers: stamped once per replay, and a forced replay bypasses only ledger records older than itself."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from processors.rules import replay

START = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def test_a_replay_replaces_an_earlier_replays_headers_and_keeps_the_records_own() -> None:
    headers = replay.stamped([("trace", b"t1"), (replay.REPLAY, b"old"), (replay.FORCE, b"1")], "r-2", None)
    assert headers == [("trace", b"t1"), (replay.REPLAY, b"r-2")]
    forced = dict(replay.stamped([], "r-3", START))
    assert replay.replay_id_of(forced) == "r-3" and replay.forced_at(forced) == START


def test_only_a_ledger_record_older_than_the_forced_replay_is_bypassed() -> None:
    headers = dict(replay.stamped([], "r", START))
    before = {"state": "SUBMITTED", "updated_at": START - timedelta(minutes=5)}
    assert replay.bypasses(headers, before)
    assert replay.bypasses(headers, {**before, "state": "SUBMITTING"})
    assert not replay.bypasses(headers, {**before, "updated_at": START + timedelta(seconds=1)}), "the forced resend's own record"
    assert not replay.bypasses(headers, {**before, "state": "FAILED"}), "a FAILED message is submitted again anyway"
    assert not replay.bypasses(headers, None)
    assert not replay.bypasses(dict(replay.stamped([], "r", None)), before), "without --force the ledger decides"
    assert not replay.bypasses({replay.FORCE: b"soon"}, before)
