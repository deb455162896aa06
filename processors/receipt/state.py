"""What the receipt stage remembers of each dispatched message (``message-state``), and how inputs move it — forward only.

A ``dispatched`` event opens a message's state and writes its ``SENT`` receipt. A provider report then moves it
along ``statuses.STEP``: the first terminal outcome is written once and wins; anything that would move the message
back (a late ``SENT`` after ``DELIVERED``, a second ``DELIVERED``, ``UNDELIVERED`` after ``DELIVERED``) is a no-op
that writes nothing — no receipt, not even a ``DUPLICATE`` one, since nothing about the message changed. ``READ``
and ``CLICKED`` are engagement after the outcome, written once each — ``CLICKED`` once per button when the report
names one (an RCS suggestion's ``button:<n>``, ``clicked_buttons``); one that arrives before any outcome is proof
of delivery, so a ``DELIVERED`` receipt (detail: implied) is written first.

RCS with SMS fallback: the state keeps the prepared SMS (``fallback``). An RCS attempt reported failed (``FALLS_BACK``)
or still undelivered when its deadline (``rcs-deadline``) comes is superseded: its report's receipt is not terminal,
the fallback is sent, once (``fallback_at``), and the message's outcome is the SMS attempt's. Reports on a superseded
attempt — a late RCS ``DELIVERED``, say — are recorded as receipts that are not terminal and never move the message.
Without a fallback, an RCS attempt still without outcome at its deadline (its validity's end) is ``EXPIRED``.

Every message ends: dispatch parks a deadline (``rcs-deadline``, despite its name) for SMS and MMS attempts too, at
the end of their validity plus a grace. An SMS or MMS attempt that is still the latest and has no outcome then is
closed: one terminal ``UNKNOWN`` receipt (reason ``no_delivery_report``), and the attempt joins the superseded ones.
A report that comes after that — a late ``DELIVERED`` from an SMSC that was down — is therefore handled as a report
on a superseded attempt: recorded once, as a receipt that is not terminal (its detail says it came after the message
was closed), and the message keeps its one terminal receipt. Analytics that want the truth behind an ``UNKNOWN`` find
it in that later receipt of the same message id.

A report whose status word no table knows (``statuses.UNRECOGNIZED``) never touches the state: it is recorded as a
receipt ``UNKNOWN`` that is not terminal, with the word in ``provider_status``, so an operator sees it and extends
the table. It is not terminal because it proves nothing about the outcome: a later known report, or the deadline,
decides it. Being stateless, the same report read again gives the same receipt (and the same ``receipt_id``).

Each state keeps the last ``APPLIED_KEPT`` inputs that changed it and the statuses they produced. An input read
again — its batch failed before the commit, the stage was killed, an operator replayed the range — gives the same
receipts again rather than none: otherwise a receipt lost with its failed batch would stay lost, because the state
written in that batch already says "done".
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from processors import fallback as sms_fallback
from processors.receipt.statuses import ENGAGEMENT, STEP
from processors.receipts import TERMINAL_STATUSES
from processors.runtime.stage import Event, RecordMeta

APPLIED_KEPT = 16
IMPLIED = "DELIVERED"
# What a deadline writes for an SMS or MMS attempt with no report: nothing proves delivery, nothing proves failure.
CLOSED = "UNKNOWN"
# An RCS attempt reported with one of these is replaced by its SMS fallback, when it has one.
FALLS_BACK = frozenset({"UNDELIVERED", "EXPIRED", "FAILED", "REJECTED"})


@dataclass(frozen=True)
class Step:
    """What one input does: the receipts to write (their statuses, in order) and the state to write (None: unchanged).

    ``fallback``: the input also sends the SMS fallback. ``earlier``: the receipts are about this superseded attempt,
    not the latest one. Either way they are not terminal: the message's outcome is still to come, or came already.
    """

    statuses: tuple[str, ...]
    state: Event | None
    fallback: bool = False
    earlier: Event | None = None


def source_of(meta: RecordMeta) -> str:
    """The input record's coordinates, which name it across re-reads."""
    return f"{meta.topic}:{meta.partition}:{meta.offset}"


def message_id_of(report: Event) -> str | None:
    """The message a provider report is about: the id the provider echoed, else the dispatched event it carries."""
    dispatched = report.get("dispatched")
    reference = report.get("message_id")
    if reference:
        return sms_fallback.message_id_of(reference)
    return dispatched["context"]["message_id"] if dispatched else None


def on_dispatched(state: Event | None, dispatched: Event, source: str, now: datetime) -> Step:
    """A message handed to a provider: ``SENT`` once; the same ids announced again are a no-op; other ids are a new attempt
    (the SMS fallback, a resubmission), ``SENT`` again unless the message already has its outcome; the attempt it
    replaces is superseded."""
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
                  "recipient": dispatched["recipient"], **attempt, "status": "SENT", "terminal": False, "engaged": [], "clicked_buttons": [],
                  "applied": [], "revision": 0, "updated_at": now, "fallback": dispatched.get("fallback"), "fallback_at": None,
                  "superseded": []}
        return _applied(opened, source, ("SENT",), now)
    if (state["provider"], state["provider_message_ids"]) == (attempt["provider"], attempt["provider_message_ids"]):
        return Step((), None)
    statuses = () if state["terminal"] else ("SENT",)
    return _applied({**_superseding(state, state["status"]), **attempt}, source, statuses, now)


def on_rcs_deadline(state: Event, due: Event, source: str, now: datetime) -> Step:
    """An attempt's deadline, when it is still the latest attempt and has no outcome. RCS: its SMS fallback goes (once);
    without a fallback the message is ``EXPIRED`` (the deadline is then its validity's end). SMS or MMS: the message is
    closed ``UNKNOWN`` (no delivery report by its validity's end plus a grace) and the attempt superseded, so a report
    coming later is recorded without a second terminal receipt."""
    again = _replayed(state, source)
    if again is not None:
        return again
    latest = (state["provider"], state["provider_message_ids"]) == (due["provider"], due["provider_message_ids"])
    if not latest or state["terminal"]:
        return Step((), None)
    if _may_fall_back(state):
        return _fall_back(state, (), state["status"], source, now)
    if state["channel"] != "RCS":
        return _applied({**_superseding(state, state["status"]), "status": CLOSED, "terminal": True}, source, (CLOSED,), now)
    if state.get("fallback") is None:
        return _applied({**state, "status": "EXPIRED", "terminal": True}, source, ("EXPIRED",), now)
    return Step((), None)


def closed_attempt(state: Event, attempt: Event) -> bool:
    """Whether ``attempt`` (a superseded one) is the one the deadline closed ``UNKNOWN``, rather than one a later attempt
    replaced: its late reports say so in their detail."""
    return state["status"] == CLOSED and (attempt["provider"], attempt["provider_message_ids"]) == (
        state["provider"], state["provider_message_ids"])


def on_report(state: Event, status: str, source: str, now: datetime, *, part: bool = False,
              provider: str | None = None, provider_message_id: str | None = None, button: str | None = None) -> Step:
    """A provider report normalized to ``status``; ``part``: it reports on one part of a long message (never terminal);
    ``button``: the button a ``CLICKED`` report names, if any.

    ``provider``/``provider_message_id`` name the attempt reported on: a superseded one gets its own forward-only receipts."""
    earlier = superseded_attempt(state, provider, provider_message_id)
    again = _replayed(state, source)
    if again is not None:
        return replace(again, earlier=earlier)
    if earlier is not None:
        return _on_earlier(state, earlier, status, source, now)
    statuses = advance(state, status, part, button)
    if not statuses:
        return Step((), None)
    if not part and statuses == (status,) and status in FALLS_BACK and _may_fall_back(state):
        return _fall_back(state, statuses, status, source, now)
    moved = dict(state)
    for written in ([] if part else statuses):
        if written in ENGAGEMENT:
            moved["engaged"] = moved["engaged"] if written in moved["engaged"] else [*moved["engaged"], written]
            if written == "CLICKED" and button is not None:
                moved["clicked_buttons"] = [*(moved.get("clicked_buttons") or []), button]
        else:
            moved["status"], moved["terminal"] = written, written in TERMINAL_STATUSES
    return _applied(moved, source, statuses, now)


def advance(state: Event, status: str, part: bool = False, button: str | None = None) -> tuple[str, ...]:
    """The receipts a report of ``status`` writes for a message in ``state``: forward moves only, the outcome once,
    each engagement once (a click once per button it names)."""
    if status in ENGAGEMENT:
        other_button = status == "CLICKED" and button is not None and button not in (state.get("clicked_buttons") or [])
        if status in state["engaged"] and not other_button:
            return ()
        return (status,) if state["terminal"] else (IMPLIED, status)
    if state["terminal"]:
        return ()
    if part:
        return (status,)
    return (status,) if STEP[status] > STEP[state["status"]] else ()


def superseded_attempt(state: Event, provider: str | None, provider_message_id: str | None) -> Event | None:
    """The superseded attempt a report is about (by provider and provider id), if it is about one."""
    for attempt in state.get("superseded") or ():
        if attempt["provider"] == provider and provider_message_id in attempt["provider_message_ids"]:
            return attempt
    return None


def advance_earlier(attempt: Event, status: str) -> tuple[str, ...]:
    """The receipts a report writes for a superseded attempt: forward moves only, each engagement once (after an implied
    ``DELIVERED``); its outcome never makes the message terminal, so there is no "outcome once" rule beyond that."""
    if status in ENGAGEMENT:
        if status in attempt["engaged"]:
            return ()
        return (status,) if STEP[attempt["status"]] >= STEP[IMPLIED] else (IMPLIED, status)
    return (status,) if STEP[status] > STEP[attempt["status"]] else ()


def _on_earlier(state: Event, earlier: Event, status: str, source: str, now: datetime) -> Step:
    statuses = advance_earlier(earlier, status)
    if not statuses:
        return Step((), None)
    moved = dict(earlier)
    for written in statuses:
        if written in ENGAGEMENT:
            moved["engaged"] = [*moved["engaged"], written]
        else:
            moved["status"] = written
    superseded = [moved if attempt is earlier else attempt for attempt in state["superseded"]]
    return replace(_applied({**state, "superseded": superseded}, source, statuses, now), earlier=earlier)


def _may_fall_back(state: Event) -> bool:
    return state.get("fallback") is not None and state.get("fallback_at") is None and not state["terminal"]


def _fall_back(state: Event, statuses: tuple[str, ...], attempt_status: str, source: str, now: datetime) -> Step:
    """Supersede the latest attempt (last reported as ``attempt_status``) and send the fallback, once."""
    moved = {**_superseding(state, attempt_status), "fallback_at": now}
    return _applied(moved, source, statuses, now, fallback=True)


def _superseding(state: Event, status: str) -> Event:
    """``state`` with its latest attempt (reported as ``status``) among the superseded ones, once."""
    superseded = list(state.get("superseded") or ())
    if superseded_attempt(state, state["provider"], (state["provider_message_ids"] or [None])[0]) is None:
        superseded.append({"channel": state["channel"], "provider": state["provider"],
                           "provider_message_ids": list(state["provider_message_ids"]), "segments": state["segments"],
                           "status": status, "engaged": list(state["engaged"])})
    return {**state, "superseded": superseded}


def _replayed(state: Event | None, source: str) -> Step | None:
    """The same receipts (and the same state, written again) for an input this state has applied already."""
    for applied in (state or {}).get("applied", ()):
        if applied["source"] == source:
            return Step(tuple(applied["statuses"]), state, bool(applied.get("fallback")))
    return None


def _applied(state: Event, source: str, statuses: tuple[str, ...], now: datetime, *, fallback: bool = False) -> Step:
    record = {"source": source, "statuses": list(statuses), "fallback": fallback}
    written = {**state, "applied": [*state["applied"], record][-APPLIED_KEPT:], "revision": state["revision"] + 1, "updated_at": now}
    return Step(statuses, written, fallback)
