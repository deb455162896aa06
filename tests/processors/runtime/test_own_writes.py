"""``runtime.own_writes``: a process sees its own writes at once, the further-along view wins, and memory stays
bounded by what the table has not shown yet, however many rows go through."""
from __future__ import annotations

from processors.runtime.own_writes import OwnWrites


def row(key: str, revision: int) -> dict:
    return {"key": key, "revision": revision}


def revision(r: dict) -> int:
    return r["revision"]


def test_an_own_write_is_seen_before_the_table_shows_it_and_the_further_view_wins() -> None:
    table: dict[str, dict] = {"a": row("a", 3)}
    own = OwnWrites(table, revision)
    own.remember("b", row("b", 1))
    assert own.get("b") == row("b", 1) and own.get("a") == row("a", 3) and own.get("c") is None
    own.remember("a", row("a", 2))  # behind what the table already shows (another instance wrote further)
    assert own.get("a") == row("a", 3)
    own.remember("a", row("a", 4))
    assert own.get("a") == row("a", 4)


def test_memory_stays_bounded_when_the_table_keeps_up_and_lagging_rows_are_kept() -> None:
    table: dict[str, dict] = {}
    own = OwnWrites(table, revision, keep=100)
    for i in range(100_000):
        key = f"m-{i}"
        own.remember(key, row(key, 1))
        if i % 7:  # every seventh write never reaches the table (its batch aborted and was not replayed yet)
            table[key] = row(key, 1)
    lagging = [f"m-{i}" for i in range(0, 100_000, 7)]
    # At most twice what the table has not shown (a scan only once their number doubles), not the 100,000 written.
    assert len(own) <= 2 * len(lagging) + 1
    assert all(own.mine(key) == row(key, 1) for key in lagging)  # never dropped before the table shows it


def test_a_row_the_table_shows_behind_is_kept() -> None:
    table: dict[str, dict] = {}
    own = OwnWrites(table, revision, keep=1)
    own.remember("a", row("a", 2))
    table["a"] = row("a", 1)
    own.remember("b", row("b", 1))  # over ``keep``: a scan
    assert own.mine("a") == row("a", 2) and own.get("a") == row("a", 2)
