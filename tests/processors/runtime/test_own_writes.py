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


class RawTable(dict):
    """A table that holds rows' bytes beside their decoded values, and counts the decodes (``get``) asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes: dict[str, bytes] = {}
        self.decodes = 0

    def write(self, key: str, value: dict, raw: bytes) -> None:
        self[key], self.bytes[key] = value, raw

    def get(self, key, default=None):  # type: ignore[override]
        self.decodes += 1
        return super().get(key, default)


def test_rows_the_table_holds_byte_for_byte_are_known_without_decoding() -> None:
    table = RawTable()
    own = OwnWrites(table, revision, keep=10, raw_of=table.bytes.get)
    for i in range(1_000):
        key = f"m-{i}"
        own.remember(key, row(key, 1), raw=b"%d/1" % i)
        table.write(key, row(key, 1), b"%d/1" % i)
    assert len(own) <= 10 and table.decodes == 0  # every scan recognised the bytes


def test_own_bytes_are_answered_without_decoding_and_other_bytes_fall_back_to_progress() -> None:
    table = RawTable()
    own = OwnWrites(table, revision, raw_of=table.bytes.get)
    own.remember("a", row("a", 2), raw=b"a/2")
    table.write("a", row("a", 2), b"a/2")
    assert own.get("a") == row("a", 2) and table.decodes == 0 and own.mine("a") is None  # shown: dropped at once
    own.remember("b", row("b", 2), raw=b"b/2")
    table.write("b", row("b", 1), b"b/1")  # the table is behind: the decoded views decide, own wins
    assert own.get("b") == row("b", 2) and table.decodes == 1 and own.mine("b") == row("b", 2)
    own.remember("c", row("c", 1))  # remembered without bytes: decoded as before
    table.write("c", row("c", 1), b"c/1")
    assert own.get("c") == row("c", 1) and table.decodes == 2


def test_a_newer_own_row_without_bytes_is_never_taken_as_shown_by_older_bytes() -> None:
    table = RawTable()
    own = OwnWrites(table, revision, raw_of=table.bytes.get)
    own.remember("a", row("a", 1), raw=b"a/1")
    table.write("a", row("a", 1), b"a/1")
    own.remember("a", row("a", 2))  # its bytes unknown: the old bytes must not make it look shown
    assert own.get("a") == row("a", 2) and own.mine("a") == row("a", 2)
