"""Message state: the terminal state wins (property test over any order and duplication), re-reads, new attempts, the store."""
from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receipt_feeder import Feeder

from common.errors import TransientError
from processors.receipt.state import APPLIED_KEPT, advance
from processors.receipt.statuses import ENGAGEMENT, STEP
from processors.receipt.store import MessageStates


def state(status: str = "SENT", terminal: bool = False, engaged: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"status": status, "terminal": terminal, "engaged": list(engaged)}


@pytest.mark.parametrize(("before", "report", "written"), [
    (state(), "SENT", ()),
    (state(), "DELIVERED", ("DELIVERED",)),
    (state(), "UNDELIVERED", ("UNDELIVERED",)),
    (state(), "READ", ("DELIVERED", "READ")),
    (state("DELIVERED", True), "DELIVERED", ()),
    (state("DELIVERED", True), "SENT", ()),
    (state("DELIVERED", True), "UNDELIVERED", ()),
    (state("DELIVERED", True), "READ", ("READ",)),
    (state("DELIVERED", True, ("READ",)), "READ", ()),
    (state("UNDELIVERED", True), "DELIVERED", ()),
    (state("EXPIRED", True), "READ", ("READ",)),
    (state("DELIVERED", True, ("READ",)), "CLICKED", ("CLICKED",)),
])
def test_forward_moves_only(before: dict[str, Any], report: str, written: tuple[str, ...]) -> None:
    assert advance(before, report) == written


def test_a_part_report_never_moves_the_message_but_stops_at_its_outcome() -> None:
    assert advance(state(), "DELIVERED", part=True) == ("DELIVERED",)
    assert advance(state("PARTIALLY_DELIVERED", True), "DELIVERED", part=True) == ()


# DEADLINE: the SMS attempt's deadline (validity end + grace); SKIPPED: a status word no table knows.
REPORTS = ["SENT", "DELIVERED", "UNDELIVERED", "EXPIRED", "FAILED", "READ", "DELIVRD", "UNDELIV", "ENROUTE", "ACCEPTD", "DEADLINE",
           "SKIPPED", "DISPATCHED"]


def input_for(word: str, dispatched_event, http_report, provider_event) -> tuple[str, dict[str, Any]]:
    """The record a word stands for: the dispatched event, an SMPP report (carrying it), an HTTP report (message id
    only) or the SMS attempt's deadline."""
    if word == "DISPATCHED":
        return "dispatched", dispatched_event()
    if word == "DEADLINE":
        return "rcs-deadline", {"message_id": "m-1", "provider": "smpp:local", "provider_message_ids": ["p1"], "due_at": Feeder.NOW}
    if word == "READ":
        return "provider-events", http_report("READ", kind="READ_REPORT")
    if word in ("DELIVRD", "UNDELIV", "ENROUTE", "ACCEPTD", "SKIPPED"):
        return "provider-events", provider_event(word)
    return "provider-events", http_report(word)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(REPORTS), max_size=12), at=st.integers(min_value=0, max_value=12))
def test_any_order_and_duplication_gives_one_terminal_receipt_and_never_goes_back(words: list[str], at: int, dispatched_event,
                                                                                 http_report, provider_event) -> None:
    """The dispatched event lands anywhere among the reports (reports before it are retried, as the runtime does)."""
    feeder = Feeder()
    words = [*words[:at], "DISPATCHED", *words[at:]]
    queue = deque(input_for(w, dispatched_event, http_report, provider_event) for w in words)
    processed: list[str] = []
    for _ in range(10 * len(words) + 10):
        if not queue:
            break
        topic, event = queue.popleft()
        try:
            feeder.feed(topic, event)
        except TransientError:
            queue.append((topic, event))
            continue
        processed.append({"dispatched": "DISPATCHED", "rcs-deadline": "DEADLINE"}.get(topic) or event["raw_status"])
    assert not queue

    # An unknown word is recorded wherever it comes, never terminal, never moving the message: set apart.
    unrecognized = [r for r in feeder.receipts if r["reason"] == "unknown_provider_status"]
    assert [(r["status"], r["terminal"], r["provider_status"]) for r in unrecognized] == [("UNKNOWN", False, "SKIPPED")] * processed.count("SKIPPED")
    receipts = [r for r in feeder.receipts if r["reason"] != "unknown_provider_status"]
    statuses = [r["status"] for r in receipts]
    terminal = [i for i, r in enumerate(receipts) if r["terminal"]]
    assert statuses[0] == "SENT" and statuses.count("SENT") == 1
    final_words = {"DELIVERED", "UNDELIVERED", "EXPIRED", "FAILED", "READ", "DELIVRD", "UNDELIV", "DEADLINE"}
    if final_words & set(processed):
        assert len(terminal) == 1, statuses
        first = next(w for w in processed if w in final_words)
        expected = {"DELIVRD": "DELIVERED", "UNDELIV": "UNDELIVERED", "READ": "DELIVERED", "DEADLINE": "UNKNOWN"}.get(first, first)
        assert statuses[terminal[0]] == expected
        if expected == "UNKNOWN":  # what the provider reports after the deadline is recorded, not terminal, once each
            after = statuses[terminal[0] + 1:]
            assert len(set(after)) == len(after) and "SENT" not in after, statuses
            statuses = statuses[:terminal[0] + 1]
        else:
            assert all(s in ENGAGEMENT for s in statuses[terminal[0] + 1:]), statuses
    else:
        assert terminal == []
    assert [STEP[s] for s in statuses] == sorted(STEP[s] for s in statuses), statuses
    assert all(statuses.count(s) <= 1 for s in ENGAGEMENT)
    assert len({r["receipt_id"] for r in feeder.receipts}) == len(feeder.receipts) - max(0, processed.count("SKIPPED") - 1)
    assert all(r["context"]["message_id"] == "m-1" and r["recipient"] == "+33612345678" for r in feeder.receipts)
    final_state = feeder.written[-1]
    assert final_state["terminal"] == bool(terminal) and final_state["revision"] == len(feeder.written)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(REPORTS[:-1]), min_size=1, max_size=8), data=st.data())
def test_an_input_read_again_gives_the_same_receipts_again(words: list[str], data: st.DataObject, dispatched_event, http_report,
                                                           provider_event) -> None:
    """A batch that failed after the state was written is read again: its receipts must come again, not be swallowed."""
    feeder = Feeder()
    feeder.feed("dispatched", dispatched_event(), offset=0)
    inputs = [input_for(w, dispatched_event, http_report, provider_event) for w in words]
    first = [feeder.receipts_of(feeder.feed(topic, event, offset=i + 1)) for i, (topic, event) in enumerate(inputs)]
    again = data.draw(st.integers(min_value=0, max_value=len(inputs) - 1))
    topic, event = inputs[again]
    assert feeder.receipts_of(feeder.feed(topic, event, offset=again + 1)) == first[again]
    assert feeder.receipts_of(feeder.feed("dispatched", dispatched_event(), offset=0))[0]["status"] == "SENT"


def test_a_duplicate_at_a_new_offset_writes_nothing(feeder: Feeder, dispatched_event, http_report) -> None:
    feeder.feed("dispatched", dispatched_event())
    assert len(feeder.feed("provider-events", http_report("DELIVERED"))) == 2
    assert feeder.feed("provider-events", http_report("DELIVERED")) == []
    assert feeder.feed("dispatched", dispatched_event()) == []


def test_applied_inputs_are_bounded(feeder: Feeder, dispatched_event, http_report) -> None:
    feeder.feed("dispatched", dispatched_event())
    feeder.feed("provider-events", http_report("DELIVERED"))
    for _ in range(APPLIED_KEPT + 5):
        feeder.feed("dispatched", dispatched_event(provider_message_ids=[f"x{len(feeder.written)}"]))
    assert len(feeder.written[-1]["applied"]) == APPLIED_KEPT


def test_a_new_attempt_is_sent_again_until_the_message_has_its_outcome(feeder: Feeder, dispatched_event, http_report) -> None:
    feeder.feed("dispatched", dispatched_event(channel="RCS", provider="http:sim", fallback_reason=None))
    [fallback] = feeder.receipts_of(feeder.feed("dispatched", dispatched_event(provider="http:sim", provider_message_ids=["s1"],
                                                                               fallback_reason="rcs_expired")))
    assert (fallback["status"], fallback["channel"], fallback["fallback_reason"], fallback["provider_message_id"]) == (
        "SENT", "SMS", "rcs_expired", "s1")
    [delivered] = feeder.receipts_of(feeder.feed("provider-events", http_report("DELIVERED", provider_message_id="s1")))
    assert (delivered["channel"], delivered["fallback_reason"], delivered["cost_micros"]) == ("SMS", "rcs_expired", 45000)
    assert feeder.feed("dispatched", dispatched_event(provider_message_ids=["s2"]))[0].topic == "message-state"
    assert feeder.written[-1]["provider_message_ids"] == ["s2"] and feeder.written[-1]["terminal"]


def test_another_instance_continues_from_the_written_states(feeder: Feeder, dispatched_event, http_report) -> None:
    feeder.feed("dispatched", dispatched_event())
    feeder.feed("provider-events", http_report("UNDELIVERED"))
    table = {s["message_id"]: s for s in feeder.written}
    successor = Feeder(states=table)  # it reads on from the committed offsets
    assert successor.feed("provider-events", http_report("DELIVERED"), offset=2) == []
    [read] = successor.receipts_of(successor.feed("provider-events", http_report("READ", kind="READ_REPORT"), offset=3))
    assert read["status"] == "READ" and successor.written[-1]["engaged"] == ["READ"]


def row(message_id: str, revision: int, status: str = "SENT", terminal: bool = False) -> dict[str, Any]:
    return {"message_id": message_id, "revision": revision, "status": status, "terminal": terminal, "engaged": [],
            "provider": "smpp:local", "provider_message_ids": [f"{message_id}-p1"], "superseded": []}


def test_reports_naming_no_message_are_attributed_through_the_provider_ids_table_and_own_writes() -> None:
    provider_ids: dict[str, bytes] = {"smpp:local|z-p1": b"z"}  # written by whichever instance owns z
    store = MessageStates({}, provider_ids=provider_ids)
    assert store.by_provider_id("smpp:local", "z-p1") == "z" and store.by_provider_id("smpp:local", "y-p1") is None
    outputs = store.put(row("b", 1))
    assert [(o.topic, o.key, o.value) for o in outputs[:-1]] == [("provider-ids", "smpp:local|b-p1", b"b")]
    assert store.by_provider_id("smpp:local", "b-p1") == "b", "an own attempt is found before the table shows it"
    again = store.put(row("b", 2, "DELIVERED", True))
    assert [o.topic for o in again] == ["message-state"], "ids already written are not written again"


def test_without_a_provider_ids_table_the_states_are_scanned_on_a_miss() -> None:
    plain: dict[str, dict[str, Any]] = {"d": {**row("d", 1), "superseded": [{"provider": "http:sim", "provider_message_ids": ["d0"]}]}}
    store = MessageStates(plain)
    assert store.by_provider_id("smpp:local", "d-p1") == "d" and store.by_provider_id("http:sim", "d0") == "d"
    assert [o.topic for o in store.put(row("e", 1))] == ["message-state"]


def test_the_store_prefers_the_newer_view_and_forgets_own_writes_the_table_shows() -> None:
    table: dict[str, dict[str, Any]] = {}
    store = MessageStates(table, keep=2)
    assert store.get("a") is None
    (output,) = store.put(row("a", 1))
    assert (output.topic, output.key) == ("message-state", "a") and store.get("a") == row("a", 1)
    table["a"] = row("a", 2, "DELIVERED", True)
    assert store.get("a")["revision"] == 2
    table["b"] = row("b", 3, "DELIVERED", True)
    store.put(row("b", 3))
    assert store.get("b")["terminal"], "same revision: the further status wins"
    store.put(row("c", 1))
    assert store.pending() == 1 and store.get("c") == row("c", 1)
