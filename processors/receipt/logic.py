"""Pure receipt rules: a submission becomes ``SENT``; a provider report becomes the receipt of the message it is about.

Statuses are normalized by ``processors.receipt.statuses`` (SMPP and HTTP tables); which receipts a report may
write at all (forward moves only, the outcome once) is ``processors.receipt.state``'s decision. Every receipt of a
dispatched message carries its segments, the channel actually used, the fallback reason and the message's cost
(billed at submission, repeated on each receipt of that attempt: count it once per message id).

Long SMS over SMPP: a report on one part of a message with several parts gives that part's status but is never
terminal (a part is not the message). A report whose ``raw_status`` lists one stat per part, comma-separated (what
a dispatcher that waits for every part sends), gives the message's one terminal status.

A status word no table knows gives ``UNRECOGNIZED`` (status ``UNKNOWN``, not terminal, the word kept as
``provider_status``). A report that cannot be attributed to a message is retried (its message's ``dispatched`` may
still be on its way), and on its last attempt kept on ``unmatched-reports`` for inspection instead (``unmatched``).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from common.errors import TransientError
from processors.receipt.statuses import (
    UNRECOGNIZED, Normalized, UnknownProviderStatus, aggregate_parts, normalize, protocol_of, with_error_code,
)
from processors.receipts import receipt
from processors.runtime.stage import Event, Output
from processors.rules.buttons import button_in
from processors.rules.prices import cost_micros

STAGE = "receipt"
UNMATCHED_TOPIC = "unmatched-reports"
NO_ERROR_CODES = frozenset({"", "0", "00", "000"})


class UnattributableReport(TransientError):
    """A provider report that names no message, and whose provider id no known message has (yet): retried, since the
    message's state may still be on its way, then kept on ``unmatched-reports``, never dropped."""


class UnknownMessage(TransientError):
    """A report about a message whose ``dispatched`` event this stage has not read (yet): retried, then kept on
    ``unmatched-reports`` (an ``rcs-deadline`` of an unknown message: retried, then dead-lettered)."""


def _billing(channel: str, region: str, segments: int, prices: Mapping[str, Any]) -> dict[str, Any]:
    cost = cost_micros(channel, region, segments, prices)
    return {"cost_micros": cost, "currency": prices.get("currency") if cost is not None else None}


def sent(event: Event, prices: Mapping[str, Any]) -> Output:
    """``dispatched`` → a non-terminal ``SENT`` receipt, at the submission time, with what it costs."""
    ids = event["provider_message_ids"]
    recipient = event["recipient"]
    return receipt(event["context"], recipient["e164"], "SENT", STAGE, event["submitted_at"],
                   channel=event["channel"], fallback_reason=event.get("fallback_reason"), segments=event["segments"],
                   provider=event["provider"], provider_message_id=ids[0] if ids else None,
                   **_billing(event["channel"], recipient["region"], event["segments"], prices))


def classify(report: Event, state: Event) -> tuple[Normalized, bool]:
    """A report's status in Courrier's terms (``UNRECOGNIZED`` for a word no table knows), and whether it reports on
    one part of a long message only."""
    if report["kind"] == "READ_REPORT":
        return Normalized("READ", None), False
    try:
        if protocol_of(report["provider"]) == "http":
            return with_error_code(normalize(report["raw_status"], "http"), report.get("error_code")), False
        stats = [stat.strip() for stat in report["raw_status"].split(",")]
        if len(stats) > 1:
            return aggregate_parts(stats), False
        return normalize(stats[0], "smpp"), len(state["provider_message_ids"]) > 1
    except UnknownProviderStatus:
        return UNRECOGNIZED, False


def report_event_id(report: Event) -> str:
    """The provider event a report is, as the provider sent it: the same report read twice (or sent twice by the
    provider, byte for byte) has the same id; reports that differ in anything the provider said have different ids.

    ``raw`` holds the provider's own event id where it has one (the webhook body's ``event_id``) and the SMPP receipt
    text otherwise; the other fields cover reports written without ``raw``.
    """
    said = [report["provider"], report["provider_message_id"], report["kind"], report["raw_status"], report.get("error_code"),
            report.get("raw"), report["occurred_at"].isoformat()]
    return hashlib.sha256(json.dumps(said).encode()).hexdigest()[:32]


def reported(report: Event, state: Event, status: str, normalized: Normalized, part: bool, prices: Mapping[str, Any],
             *, not_final: str | None = None) -> Output:
    """The receipt of ``status`` for the message in ``state``, from a provider ``report`` (normalized as ``normalized``).

    ``status`` is the report's own status, or ``DELIVERED`` implied by an engagement report that came first.
    ``not_final``: why the receipt is about an attempt that no longer decides the outcome (never terminal then).
    """
    notes = []
    if part:
        ids = state["provider_message_ids"]
        position = ids.index(report["provider_message_id"]) + 1 if report["provider_message_id"] in ids else "?"
        notes.append(f"part {position} of {len(ids)}")
    if (report.get("error_code") or "").strip() not in NO_ERROR_CODES:
        notes.append(f"provider error {report['error_code']}")
    # A click names its button (an RCS suggestion's button:<n>, read from the report's body), as the links service's do.
    button = button_in(report.get("raw")) if status == "CLICKED" else None
    reason = button or normalized.reason
    if status != normalized.status:
        reason, notes = None, [f"implied by a {normalized.status} report"]
    fields: dict[str, Any] = {"terminal": False} if part or not_final else {}
    if not_final:
        notes.append(not_final)
    recipient = state["recipient"]
    return receipt(state["context"], recipient["e164"], status, STAGE, report["occurred_at"], event_id=report_event_id(report),
                   reason=reason, detail="; ".join(notes) or None, channel=state["channel"],
                   fallback_reason=state.get("fallback_reason"), segments=state["segments"],
                   provider=report["provider"], provider_message_id=report["provider_message_id"],
                   provider_status=report["raw_status"], **_billing(state["channel"], recipient["region"], state["segments"], prices),
                   **fields)


# What a deadline with no outcome writes (processors.receipt.state.on_rcs_deadline): RCS without a fallback expires;
# SMS and MMS end UNKNOWN, since an SMSC that never reported proves neither delivery nor failure.
NO_REPORT = {
    "EXPIRED": ("no_report_within_validity", "reported nothing by the end of the message's validity"),
    "UNKNOWN": ("no_delivery_report", "sent no delivery report by the end of the message's validity and its grace"),
}


def no_report(state: Event, deadline: Event, status: str, prices: Mapping[str, Any]) -> Output:
    """The terminal receipt (``EXPIRED`` or ``UNKNOWN``, see ``NO_REPORT``) of a message whose deadline came with no outcome."""
    recipient = state["recipient"]
    reason, what = NO_REPORT[status]
    return receipt(state["context"], recipient["e164"], status, STAGE, deadline["due_at"], reason=reason,
                   detail=f"{state['provider']} {what}", channel=state["channel"],
                   fallback_reason=state.get("fallback_reason"), segments=state["segments"], provider=state["provider"],
                   provider_message_id=state["provider_message_ids"][0] if state["provider_message_ids"] else None,
                   **_billing(state["channel"], recipient["region"], state["segments"], prices))


def unknown_message(report: Event, message_id: str) -> UnknownMessage:
    """Why a report waits: its message's ``dispatched`` may not have been read yet (it travels on another topic)."""
    return UnknownMessage(f"unknown message id {message_id!r}: {report['provider']} reported {report['raw_status'][:40]!r} "
                          f"(provider id {report['provider_message_id']!r}) and no dispatched event for it has been read yet")


def unmatched(report: Event) -> Output:
    """A report no message could be found for, after its last retry: kept as it came, keyed as ``provider-events`` is."""
    return Output(UNMATCHED_TOPIC, report["provider_message_id"], report)


def unattributable(report: Event) -> UnattributableReport:
    return UnattributableReport(f"{report['provider']} reported {report['raw_status'][:40]!r} for provider id "
                                f"{report['provider_message_id']!r}, with no message id and no dispatched message")

