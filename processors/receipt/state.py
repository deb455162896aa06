"""What the receipt stage remembers of each dispatched message (``message-state``), and how inputs move it — forward only.

A ``dispatched`` event opens a message's state and writes its ``SENT`` receipt. A provider report then moves it
along ``statuses.STEP``: the first terminal outcome is written once and wins; anything that would move the message
back (a late ``SENT`` after ``DELIVERED``, a second ``DELIVERED``, ``UNDELIVERED`` after ``DELIVERED``) is a no-op
that writes nothing — no receipt, not even a ``DUPLICATE`` one, since nothing about the message changed. ``READ``
and ``CLICKED`` are engagement after the outcome, written once each; one that arrives before any outcome is proof
of delivery, so a ``DELIVERED`` receipt (detail: implied) is written first.

Each state keeps the last ``APPLIED_KEPT`` inputs that changed it and the statuses they produced. An input read
again — its batch failed before the commit, the stage was killed, an operator replayed the range — gives the same
receipts again rather than none: otherwise a receipt lost with its failed batch would stay lost, because the state
written in that batch already says "done".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from processors.receipt.statuses import ENGAGEMENT, STEP
from processors.receipts import TERMINAL_STATUSES
from processors.runtime.stage import Event, RecordMeta

APPLIED_KEPT = 16
IMPLIED = "DELIVERED"


@dataclass(frozen=True)
class Step:
    """What one input does: the receipts to write (their statuses, in order) and the state to write (None: unchanged)."""

    statuses: tuple[str, ...]
    state: Event | None


def source_of(meta: RecordMeta) -> str:
    """The input record's coordinates, which name it across re-reads."""
    return f"{meta.topic}:{meta.partition}:{meta.offset}"


def message_id_of(report: Event) -> str | None:
    """The message a provider report is about: the id the provider echoed, else the dispatched event it carries."""
    dispatched = report.get("dispatched")
    return report.get("message_id") or (dispatched["context"]["message_id"] if dispatched else None)


def on_dispatched(state: Event | None, dispatched: Event, source: str, now: datetime) -> Step:
    """A message handed to a provider: ``SENT`` once; the same ids announced again are a no-op; other ids are a new attempt
    (a fallback), ``SENT`` again unless the message already has its outcome."""
    again = _replayed(state, source)
    if again is not None:
        return again
    attempt = {
        "channel": dispatched["channel"], "fallback_reason": dispatched.get("fallback_reason"), "sender": dispatched["sender"],
        "provider": dispatched["provider"], "provider_message_ids": list(dispatched["provider_message_ids"]),
        "segments": dispatched["segments"], "submitted_at": dispatched["submitted_at"],
    }
    if state is None:
        opened = {"message_id": dispatched["context"]["message_id"], "context": dispatched["context"],
                  "recipient": dispatched["recipient"], **attempt, "status": "SENT", "terminal": False, "engaged": [],
                  "applied": [], "revision": 0, "updated_at": now}
        return _applied(opened, source, ("SENT",), now)
    if (state["provider"], state["provider_message_ids"]) == (attempt["provider"], attempt["provider_message_ids"]):
        return Step((), None)
    statuses = () if state["terminal"] else ("SENT",)
    return _applied({**state, **attempt}, source, statuses, now)


def on_report(state: Event, status: str, source: str, now: datetime, *, part: bool = False) -> Step:
    """A provider report normalized to ``status``; ``part``: it reports on one part of a long message (never terminal)."""
    again = _replayed(state, source)
    if again is not None:
        return again
    statuses = advance(state, status, part)
    if not statuses:
        return Step((), None)
    moved = dict(state)
    for written in ([] if part else statuses):
        if written in ENGAGEMENT:
            moved["engaged"] = [*moved["engaged"], written]
        else:
            moved["status"], moved["terminal"] = written, written in TERMINAL_STATUSES
    return _applied(moved, source, statuses, now)


def advance(state: Event, status: str, part: bool = False) -> tuple[str, ...]:
    """The receipts a report of ``status`` writes for a message in ``state``: forward moves only, the outcome once."""
    if status in ENGAGEMENT:
        if status in state["engaged"]:
            return ()
        return (status,) if state["terminal"] else (IMPLIED, status)
    if state["terminal"]:
        return ()
    if part:
        return (status,)
    return (status,) if STEP[status] > STEP[state["status"]] else ()


def _replayed(state: Event | None, source: str) -> Step | None:
    """The same receipts (and the same state, written again) for an input this state has applied already."""
    for applied in (state or {}).get("applied", ()):
        if applied["source"] == source:
            return Step(tuple(applied["statuses"]), state)
    return None


def _applied(state: Event, source: str, statuses: tuple[str, ...], now: datetime) -> Step:
    record = {"source": source, "statuses": list(statuses)}
    written = {**state, "applied": [*state["applied"], record][-APPLIED_KEPT:], "revision": state["revision"] + 1, "updated_at": now}
    return Step(statuses, written)
