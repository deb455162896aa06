"""Held delay records: release order and the commit point that never skips a held record."""
from __future__ import annotations

from hypothesis import given, strategies as st

from processors.scheduler.pending import PendingRecords

P0 = ("retry", 0)
P1 = ("retry", 1)


def test_releases_in_due_order_and_only_when_due() -> None:
    pending: PendingRecords[str] = PendingRecords()
    pending.hold(P0, 0, 300, "late")
    pending.hold(P0, 1, 100, "early")
    pending.hold(P1, 0, 200, "middle")
    assert pending.due(50) == []
    assert [item for _p, _o, item in pending.due(250)] == ["early", "middle"]
    assert pending.next_due_ms() == 300


def test_commit_point_stops_at_the_lowest_held_offset() -> None:
    pending: PendingRecords[str] = PendingRecords()
    pending.hold(P0, 10, 500, "a")
    pending.hold(P0, 11, 100, "b")
    for partition, offset, _item in pending.due(200):
        pending.released(partition, offset)
    assert pending.commit_points() == {P0: 10}
    for partition, offset, _item in pending.due(600):
        pending.released(partition, offset)
    assert pending.commit_points() == {P0: 12}


def test_a_taken_but_unreleased_record_is_not_committed() -> None:
    pending: PendingRecords[str] = PendingRecords()
    pending.hold(P0, 5, 0, "x")
    assert len(pending.due(1)) == 1
    assert pending.commit_points() == {P0: 5}


def test_dropped_partitions_are_forgotten() -> None:
    pending: PendingRecords[str] = PendingRecords()
    pending.hold(P0, 1, 100, "a")
    pending.hold(P1, 1, 100, "b")
    pending.drop([P0])
    assert [item for _p, _o, item in pending.due(1000)] == ["b"]
    assert P0 not in pending.commit_points()


@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1000)), min_size=1, max_size=60), st.integers(0, 1000))
def test_commit_point_never_passes_a_held_record(records: list[tuple[int, int]], now: int) -> None:
    pending: PendingRecords[int] = PendingRecords()
    held: list[tuple[int, int, int]] = []
    next_offset = {0: 0, 1: 0}
    for partition, due in records:
        pending.hold(("t", partition), next_offset[partition], due, due)
        held.append((partition, next_offset[partition], due))
        next_offset[partition] += 1
    for partition, offset, _ in pending.due(now):
        pending.released(partition, offset)
    points = pending.commit_points()
    for partition, offset, due in held:
        if due > now:
            assert points[("t", partition)] <= offset


def test_a_record_whose_release_failed_is_offered_again() -> None:
    pending: PendingRecords[str] = PendingRecords()
    pending.hold(P0, 3, 100, "x")
    [(partition, offset, item)] = pending.due(200)
    assert pending.due(200) == []
    pending.retake(partition, offset, 100, item)
    assert pending.due(200) == [(P0, 3, "x")]
    assert pending.commit_points() == {P0: 3}


def test_a_failed_release_of_a_dropped_partition_is_forgotten() -> None:
    pending: PendingRecords[str] = PendingRecords()
    pending.hold(P0, 3, 100, "x")
    [(partition, offset, item)] = pending.due(200)
    pending.drop([P0])
    pending.retake(partition, offset, 100, item)
    assert pending.due(200) == [] and len(pending) == 0


def test_held_records_are_counted_per_topic() -> None:
    pending: PendingRecords[str] = PendingRecords()
    pending.hold(("scheduled", 0), 0, 100, "a")
    pending.hold(("scheduled", 1), 0, 100, "b")
    pending.hold(P0, 0, 100, "c")
    assert (pending.held_in("scheduled"), pending.held_in("retry"), pending.held_in("other")) == (2, 1, 0)
    for partition, offset, _item in pending.due(100):
        if partition[0] == "scheduled":
            pending.released(partition, offset)
    assert (pending.held_in("scheduled"), pending.held_in("retry")) == (0, 1)
