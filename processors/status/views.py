"""Rows of ``message-status`` and ``campaign-status`` as the HTTP answers show them (pure)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from processors.runtime.stage import Event
from processors.status.models import CampaignStatusBody, MessageStatusBody, ReceiptCountBody, StatusChangeBody


def visible_to(row: Event, api_key_id: str | None, admin: bool = False) -> bool:
    """Whether the caller holding ``api_key_id`` may read the message: the key that sent it, an ``admin`` key, any key
    for a message no key sent (campaigns, tools), and anyone when access control is off (``api_key_id`` None)."""
    owner = row["context"].get("api_key_id")
    return admin or api_key_id is None or owner is None or owner == api_key_id


def message_body(row: Event) -> MessageStatusBody:
    context = row["context"]
    history = [StatusChangeBody(receipt_id=c["receipt_id"], status=_wire(c["status"]), terminal=c["terminal"], reason=c["reason"],
                                stage=c["stage"], channel=_wire(c["channel"]), occurred_at=c["occurred_at"]) for c in row["history"]]
    return MessageStatusBody(
        message_id=row["message_id"], status=_wire(row["status"]), terminal=row["terminal"], recipient=row["recipient"],
        channel=_wire(row["channel"]), fallback_reason=row["fallback_reason"], segments=row["segments"], provider=row["provider"],
        cost_micros=row["cost_micros"], currency=row["currency"], campaign_id=context.get("campaign_id"),
        variant=context.get("variant"), updated_at=row["updated_at"], history=history, history_dropped=row["history_dropped"])


def campaign_body(campaign_id: str, rows: Iterable[Event]) -> CampaignStatusBody | None:
    """The partitions' rows of one campaign added up; None when there is none (no receipt of it yet, or no such campaign)."""
    found = list(rows)
    if not found:
        return None
    statuses: dict[str, int] = {}
    receipts: dict[tuple[Any, ...], int] = {}
    for row in found:
        for status, count in row["statuses"].items():
            statuses[_wire(status)] = statuses.get(_wire(status), 0) + count
        for entry in row["receipts"]:
            which = (entry["variant"], entry["status"], entry["channel"])
            receipts[which] = receipts.get(which, 0) + entry["count"]
    currencies = {row["currency"] for row in found if row["currency"]}
    return CampaignStatusBody(
        campaign_id=campaign_id, messages=sum(row["messages"] for row in found), statuses=dict(sorted(statuses.items())),
        receipts=[ReceiptCountBody(variant=v, status=_wire(s), channel=_wire(c), count=n)
                  for (v, s, c), n in sorted(receipts.items(), key=lambda item: tuple(str(part) for part in item[0]))],
        cost_micros=sum(row["cost_micros"] for row in found), currency=",".join(sorted(currencies)) or None,
        segments=sum(row["segments"] for row in found), updated_at=max(row["updated_at"] for row in found))


def _wire(symbol: str | None) -> str | None:
    """An Avro enum symbol (``DELIVERED``) as the API writes it (``delivered``)."""
    return symbol.lower() if symbol is not None else None
