"""`courrier dlq`'s selection without a broker: every criterion given must hold, handled records are left out."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from courrier.dlq import DeadLetter, Selection
from processors.runtime import policy

AT = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def letter(stage: str = "consent", error: Exception = ValueError("quiet hours file broken"), key: bytes = b"+33612345678",
           offset: int = 0) -> DeadLetter:
    return DeadLetter(offset, 1, key, b"bytes", policy.failure_headers(stage, error, "send-requested", 0, 7, AT))


def test_every_criterion_given_must_hold() -> None:
    record = letter()
    assert record.id == "1:0" and record.failed_at == AT and record.reason == "ValueError: quiet hours file broken"
    assert Selection().matches(record, {}) and not Selection().narrowed
    assert Selection(stage="consent", reason="QUIET", key="+33612345678").matches(record, {})
    assert not Selection(stage="render").matches(record, {})
    assert Selection(reason="valueerror").matches(record, {}) and not Selection(reason="KeyError").matches(record, {})
    assert Selection(since=AT, until=AT + timedelta(seconds=1)).matches(record, {})
    assert not Selection(until=AT).matches(record, {}), "until is excluded"
    assert not Selection(key="+33612345679").matches(record, {})


def test_handled_records_are_left_out_unless_asked_for() -> None:
    handled = {"1:0": {"action": "requeued", "at": AT.isoformat(), "to": "send-requested"}}
    assert not Selection(stage="consent").matches(letter(), handled)
    assert Selection(stage="consent", handled_too=True).matches(letter(), handled)
    assert Selection(stage="consent").matches(letter(offset=1), handled)
    assert letter(offset=1).summary["key"] != "+33612345678", "numbers masked"
