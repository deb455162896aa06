"""Pure receipt rules: a submission becomes ``SENT``; provider statuses become the one ``ReceiptStatus`` set.

SMPP ``stat`` values (SMPP 3.4 appendix B, plus ENROUTE from ``message_state``):

| stat    | status      | terminal | reason                | why                                                        |
|---------|-------------|----------|-----------------------|------------------------------------------------------------|
| DELIVRD | DELIVERED   | yes      | –                     | the handset has it                                         |
| UNDELIV | UNDELIVERED | yes      | undeliverable         | the network gave up on the handset (absent, barred, full)  |
| EXPIRED | EXPIRED     | yes      | expired_in_network    | the validity period ran out in the SMSC                    |
| REJECTD | REJECTED    | yes      | rejected_by_network   | the SMSC or a carrier refused it (content, sender, route)  |
| DELETED | FAILED      | yes      | deleted_by_smsc       | cancelled or purged inside the SMSC: our side's failure    |
| UNKNOWN | FAILED      | yes      | unknown_final_state   | a final state the SMSC cannot tell: nothing proves delivery|
| ACCEPTD | SENT        | no       | accepted_by_network   | many peers send it on the way, before a final DELIVRD      |
| ENROUTE | SENT        | no       | –                     | still on its way                                           |

Any other word is not guessed at: ``UnknownProviderStatus`` dead-letters the report, so an operator
extends this table and requeues it. A read report (RCS) is ``READ``, whatever its raw status.

Long SMS: a report on one part of a message with several parts gives that part's status but is never
terminal (a part is not the message). A report whose ``raw_status`` lists one stat per part, comma-
separated (what a dispatcher that waits for every part sends), gives the message's one terminal status.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from processors.receipts import receipt
from processors.runtime.stage import Event, Output

STAGE = "receipt"
DEFAULT_PRICES = Path(__file__).resolve().parent / "data" / "prices.json"
NO_ERROR_CODES = frozenset({"", "0", "00", "000"})

SMPP_STATUS: dict[str, tuple[str, str | None]] = {
    "DELIVRD": ("DELIVERED", None),
    "UNDELIV": ("UNDELIVERED", "undeliverable"),
    "EXPIRED": ("EXPIRED", "expired_in_network"),
    "REJECTD": ("REJECTED", "rejected_by_network"),
    "DELETED": ("FAILED", "deleted_by_smsc"),
    "UNKNOWN": ("FAILED", "unknown_final_state"),
    "ACCEPTD": ("SENT", "accepted_by_network"),
    "ENROUTE": ("SENT", None),
}


class UnattributableReport(ValueError):
    """A provider report that names no dispatched message: it is dead-lettered (kept, with this reason), not dropped."""


class UnknownProviderStatus(ValueError):
    """A provider status this table does not know: dead-lettered until the table says what it means."""


@dataclass(frozen=True)
class Normalized:
    """A provider status in Courrier's terms."""

    status: str
    reason: str | None


def normalize_stat(stat: str) -> Normalized:
    """One SMPP ``stat`` word in Courrier's status set."""
    try:
        return Normalized(*SMPP_STATUS[stat.strip().upper()])
    except KeyError:
        raise UnknownProviderStatus(f"provider status {stat.strip()[:20]!r} is not in the SMPP status table") from None


def aggregate_parts(stats: list[str]) -> Normalized:
    """A message from its parts' stats: any part on its way → ``SENT``; all delivered → ``DELIVERED``;
    some → ``PARTIALLY_DELIVERED``; none → the first failed part's status."""
    parts = [normalize_stat(stat) for stat in stats]
    pending = sum(p.status == "SENT" for p in parts)
    delivered = sum(p.status == "DELIVERED" for p in parts)
    if pending:
        return Normalized("SENT", f"{pending}_of_{len(parts)}_parts_pending")
    if delivered == len(parts):
        return Normalized("DELIVERED", None)
    if delivered:
        return Normalized("PARTIALLY_DELIVERED", f"{delivered}_of_{len(parts)}_parts_delivered")
    return next(p for p in parts if p.status != "DELIVERED")


def load_prices(path: Path = DEFAULT_PRICES) -> dict[str, Any]:
    """Prices per channel and region, in millionths of ``currency``."""
    return json.loads(path.read_text(encoding="utf-8"))


def cost_micros(channel: str, region: str, segments: int, prices: Mapping[str, Any]) -> int | None:
    """What a message costs: per segment on SMS, per message on MMS and RCS; ``None`` without a price."""
    table = prices.get(channel) or {}
    unit = table.get(region, table.get("default"))
    return None if unit is None else int(unit) * (segments if channel == "SMS" else 1)


def sent(event: Event, prices: Mapping[str, Any]) -> Output:
    """``dispatched`` → a non-terminal ``SENT`` receipt, at the submission time, with what it costs (billed at submission)."""
    ids = event["provider_message_ids"]
    recipient = event["recipient"]
    cost = cost_micros(event["channel"], recipient["region"], event["segments"], prices)
    return receipt(event["context"], recipient["e164"], "SENT", STAGE, event["submitted_at"],
                   channel=event["channel"], fallback_reason=event.get("fallback_reason"), segments=event["segments"],
                   provider=event["provider"], provider_message_id=ids[0] if ids else None,
                   cost_micros=cost, currency=prices.get("currency") if cost is not None else None)


def reported(event: Event) -> Output:
    """``provider-events`` → the receipt of the message (or part) it reports on, at the time the provider gives."""
    dispatched = event.get("dispatched")
    if dispatched is None:
        raise UnattributableReport(f"{event['provider']} reported {event['raw_status'][:40]!r} for provider id "
                                   f"{event['provider_message_id']!r}, and no dispatched message came with it")
    stats = [stat.strip() for stat in event["raw_status"].split(",")]
    if event["kind"] == "READ_REPORT":
        normalized = Normalized("READ", None)
    else:
        normalized = normalize_stat(stats[0]) if len(stats) == 1 else aggregate_parts(stats)
    part_ids = dispatched["provider_message_ids"]
    one_part = len(part_ids) > 1 and len(stats) == 1 and event["kind"] != "READ_REPORT"
    notes = []
    if one_part:
        position = part_ids.index(event["provider_message_id"]) + 1 if event["provider_message_id"] in part_ids else "?"
        notes.append(f"part {position} of {len(part_ids)}")
    if (event.get("error_code") or "").strip() not in NO_ERROR_CODES:
        notes.append(f"provider error {event['error_code']}")
    fields: dict[str, Any] = {"terminal": False} if one_part else {}
    return receipt(dispatched["context"], dispatched["recipient"]["e164"], normalized.status, STAGE, event["occurred_at"],
                   reason=normalized.reason, detail="; ".join(notes) or None, channel=dispatched["channel"],
                   fallback_reason=dispatched.get("fallback_reason"), segments=dispatched["segments"],
                   provider=event["provider"], provider_message_id=event["provider_message_id"],
                   provider_status=event["raw_status"], **fields)
