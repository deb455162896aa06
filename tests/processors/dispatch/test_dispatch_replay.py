"""Dispatch and `courrier replay`: a replayed message the ledger knows is never submitted again, unless the replay was
forced; a forced one goes once more, with a receipt saying so, and only once."""
from __future__ import annotations

from datetime import timedelta

from processors.rules import replay
from processors.runtime.stage import RecordMeta
from test_dispatch_stage import NOW, MemoryLedger, meta, rendered, started_stage  # noqa: I001 (same folder)


def replayed(offset: int, forced: bool) -> RecordMeta:
    headers = dict(replay.stamped([], "r-1", NOW - timedelta(seconds=1) if forced else None))
    return RecordMeta("rendered", 0, offset, "COURRIER", NOW, headers)


def test_a_replayed_message_already_submitted_is_announced_again_not_submitted() -> None:
    stage, made = started_stage(MemoryLedger())
    try:
        stage.process_batch([(rendered("m1"), meta(0))])
        [again] = stage.process_batch([(rendered("m1"), replayed(1, forced=False))])
    finally:
        stage.close()
    assert [s.message_id for s in made[0].submitted] == ["m1"]
    assert "dispatched" in [o.topic for o in again] and "receipt" not in [o.topic for o in again]


def test_a_forced_replay_submits_once_more_and_its_receipt_says_so() -> None:
    ledger = MemoryLedger()
    stage, made = started_stage(ledger)
    try:
        stage.process_batch([(rendered("m1"), meta(0))])
        ledger.records["m1"] = {**ledger.records["m1"], "updated_at": NOW - timedelta(minutes=5)}  # sent before the replay
        [forced] = stage.process_batch([(rendered("m1"), replayed(1, forced=True))])
        [read_again] = stage.process_batch([(rendered("m1"), replayed(1, forced=True))])  # e.g. its batch aborted
    finally:
        stage.close()
    assert [s.message_id for s in made[0].submitted] == ["m1", "m1"], "sent again once, not on a second read"
    [note] = [o.value for o in forced if o.topic == "receipt"]
    assert (note["status"], note["reason"], note["stage"], note["terminal"]) == ("SENT", replay.FORCED_RESEND, "dispatch", False)
    assert "r-1" in note["detail"] and note["provider_message_id"] == "p-m1"
    assert "receipt" not in [o.topic for o in read_again]
