"""The idempotency window without a broker: a dict stands in for the topic table."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from processors.intake import idempotency
from processors.intake.idempotency import IdempotencyWindow
from processors.rules.idempotency import idempotency_record

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(hours=24)


def test_a_claimed_key_answers_its_first_message_until_the_window_closes() -> None:
    window = IdempotencyWindow({}, DAY)
    assert window.claim("k", "m-1", NOW) is None
    assert window.claim("k", "m-2", NOW + timedelta(hours=1)) == "m-1"
    assert window.claim("k", "m-3", NOW + DAY) is None  # expired: a new message, a new window
    assert window.record("k").value["message_id"] == "m-3"


def test_the_table_answers_for_keys_other_instances_wrote() -> None:
    table = {"k": idempotency_record("k", "m-other", NOW, DAY).value}
    window = IdempotencyWindow(table, DAY)
    assert window.claim("k", "m-1", NOW + timedelta(minutes=5)) == "m-other"
    assert window.claim("k", "m-1", NOW + DAY) is None


def test_a_released_claim_lets_a_retry_send_but_only_its_own_claim_is_released() -> None:
    window = IdempotencyWindow({}, DAY)
    window.claim("k", "m-1", NOW)
    window.release("k", "m-other")
    assert window.lookup("k", NOW) == "m-1"
    window.release("k", "m-1")
    assert window.claim("k", "m-2", NOW) is None


def test_concurrent_claims_of_one_key_let_exactly_one_through() -> None:
    window = IdempotencyWindow({}, DAY)
    barrier = threading.Barrier(16)
    answers: list[str | None] = []

    def claim(n: int) -> None:
        barrier.wait()
        answers.append(window.claim("k", f"m-{n}", NOW))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(None) == 1
    winner = window.lookup("k", NOW)
    assert [a for a in answers if a is not None] == [winner] * 15


def test_claims_the_table_has_caught_up_with_are_pruned(monkeypatch) -> None:
    monkeypatch.setattr(idempotency, "PRUNE_ABOVE", 3)
    table: dict = {}
    window = IdempotencyWindow(table, DAY)
    for n in range(4):
        window.claim(f"k{n}", f"m-{n}", NOW)
        table[f"k{n}"] = window.record(f"k{n}").value
    window.claim("k-new", "m-new", NOW)
    assert window._claims.keys() == {"k-new"}
    assert window.lookup("k0", NOW) == "m-0"
