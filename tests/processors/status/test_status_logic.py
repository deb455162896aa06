"""The status projection: current status, attempt fields, cost once per attempt, history, campaign counts (pure)."""
from __future__ import annotations

from hypothesis import given, strategies as st
from receipts import T0, context, made

from processors.status.logic import HISTORY_KEPT, campaign_key, counted, project


def run(*receipts):
    row = None
    for receipt in receipts:
        row = project(row, receipt, T0) or row
    return row


def test_a_delivered_sms_shows_its_outcome_cost_and_history() -> None:
    row = run(made("SENT"), made("DELIVERED", seconds=3))
    assert (row["status"], row["terminal"], row["channel"], row["segments"], row["provider"]) == ("DELIVERED", True, "SMS", 1, "smpp")
    assert (row["cost_micros"], row["currency"]) == (45000, "EUR")
    assert [c["status"] for c in row["history"]] == ["SENT", "DELIVERED"]
    assert row["revision"] == 1


def test_an_rcs_attempt_and_its_sms_fallback_are_both_billed_once() -> None:
    rcs = dict(channel="RCS", provider="rbm", provider_message_id="r-1")
    sms = dict(channel="SMS", provider="smpp", provider_message_id="s-1", fallback_reason="rcs_undelivered")
    row = run(made("SENT", cost_micros=30000, **rcs), made("UNDELIVERED", seconds=1, terminal=False, **rcs),
              made("SENT", seconds=2, cost_micros=45000, **sms), made("DELIVERED", seconds=3, **sms))
    assert (row["status"], row["channel"], row["fallback_reason"], row["cost_micros"]) == ("DELIVERED", "SMS", "rcs_undelivered", 75000)
    assert len(row["billed"]) == 2


def test_the_same_receipt_twice_changes_nothing() -> None:
    sent = made("SENT")
    row = project(None, sent, T0)
    assert project(row, sent, T0) is None


def test_engagement_moves_the_outcome_on_and_a_late_report_does_not() -> None:
    row = run(made("SENT"), made("DELIVERED", seconds=1), made("READ", seconds=2))
    assert (row["status"], row["terminal"]) == ("READ", True)
    late = run(made("SENT"), made("DELIVERED", seconds=1), made("UNDELIVERED", seconds=2, terminal=False, provider_message_id="old"))
    assert late["status"] == "DELIVERED" and len(late["history"]) == 3
    assert run(made("SENT"), made("DELIVERED"), made("CLICKED", seconds=1), made("READ", seconds=2))["status"] == "CLICKED"


def test_a_refusal_before_dispatch_has_no_channel_nor_cost() -> None:
    row = run(made("REJECTED", stage="consent", channel=None, segments=None, provider=None, provider_message_id=None,
                   reason="invalid_number"))
    assert (row["status"], row["channel"], row["cost_micros"], row["history"][0]["reason"]) == ("REJECTED", None, None, "invalid_number")


def test_history_is_bounded_and_counts_what_it_left_out() -> None:
    row = run(*(made("SENT", seconds=i, provider_message_id=f"p-{i}", cost_micros=1) for i in range(HISTORY_KEPT + 5)))
    assert (len(row["history"]), row["history_dropped"], row["cost_micros"]) == (HISTORY_KEPT, 5, HISTORY_KEPT + 5)


def test_campaign_counts_move_a_message_between_statuses() -> None:
    ctx = context(campaign_id="spring", variant="A")
    sent, delivered = made("SENT", ctx), made("DELIVERED", ctx, seconds=1)
    first = project(None, sent, T0)
    counts = counted(None, None, first, sent, 2, T0)
    second = project(first, delivered, T0)
    counts = counted(counts, first, second, delivered, 2, T0)
    assert campaign_key("spring", 2) == "spring|2"
    assert (counts["messages"], counts["statuses"], counts["cost_micros"], counts["segments"]) == (1, {"DELIVERED": 1}, 45000, 1)
    assert sorted((r["variant"], r["status"], r["count"]) for r in counts["receipts"]) == [("A", "DELIVERED", 1), ("A", "SENT", 1)]


STATUSES = ["SENT", "DELIVERED", "UNDELIVERED", "READ", "CLICKED", "FAILED", "DEFERRED", "UNKNOWN"]


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(STATUSES), st.booleans()), max_size=30))
def test_campaign_counts_match_the_messages_rows(steps) -> None:
    """Whatever the receipts, messages by status add up to the messages counted, and match each message's row."""
    rows: dict[str, dict] = {}
    counts = None
    for index, (message, status, terminal) in enumerate(steps):
        receipt = made(status, context(f"m-{message}", campaign_id="c"), seconds=index, terminal=terminal, provider_message_id=f"p-{index}")
        before = rows.get(f"m-{message}")
        after = project(before, receipt, T0)
        if after is not None:
            counts = counted(counts, before, after, receipt, 0, T0)
            rows[f"m-{message}"] = after
    if counts is not None:
        assert counts["messages"] == len(rows) == sum(counts["statuses"].values())
        expected: dict[str, int] = {}
        for row in rows.values():
            expected[row["status"]] = expected.get(row["status"], 0) + 1
        assert counts["statuses"] == expected
        assert counts["cost_micros"] == sum(row["cost_micros"] or 0 for row in rows.values())
