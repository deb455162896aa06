"""The status stage through the runtime's harness: rows per message and per campaign partition, replays, aborted batches."""
from __future__ import annotations

from receipts import RECIPIENT, context, made

from processors.runtime.testing import StageHarness
from processors.status.stage import StatusStage


def harness() -> StageHarness:
    return StageHarness(StatusStage(messages={}, campaigns={}))


def test_each_receipt_writes_its_message_row_and_its_campaign_counts() -> None:
    h = harness()
    ctx = context("m-1", campaign_id="spring", variant="B")
    h.feed("receipt", made("SENT", ctx), key=RECIPIENT, partition=4)
    h.feed("receipt", made("DELIVERED", ctx, seconds=2), key=RECIPIENT, partition=4)
    out = h.run()
    rows = [p.event for p in out["message-status"]]
    assert [(r["status"], r["revision"]) for r in rows] == [("SENT", 0), ("DELIVERED", 1)]
    counts = out["campaign-status"][-1]
    assert counts.key == "spring|4"
    assert (counts.event["messages"], counts.event["statuses"], counts.event["cost_micros"]) == (1, {"DELIVERED": 1}, 45000)


def test_a_receipt_read_again_writes_nothing_more() -> None:
    h = harness()
    h.feed("receipt", made("SENT"), key=RECIPIENT)
    h.run()
    h.feed("receipt", made("SENT"), key=RECIPIENT)
    assert h.run() == {}


def test_an_aborted_batch_is_applied_again_when_read_again() -> None:
    h = harness()
    ctx = context("m-1", campaign_id="spring")
    h.feed("receipt", made("SENT", ctx), key=RECIPIENT)
    assert h.run(commit=False) == {}
    h.feed("receipt", made("SENT", ctx), key=RECIPIENT)
    out = h.run()
    assert out["message-status"][0].event["revision"] == 0
    assert out["campaign-status"][0].event["messages"] == 1
