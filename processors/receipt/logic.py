"""Pure receipt rules: SMPP and HTTP provider statuses → one status set; the terminal state wins; cost per segment."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from processors.receipts import receipt
from processors.runtime.stage import Event, Output

STAGE = "receipt"
PRICES = Path(__file__).resolve().parent / "data" / "prices.json"

# SMPP 3.4 delivery receipt `stat:` values (appendix B) → normalized status. Every value but ENROUTE is a
# final message state in SMPP, so every other mapping is terminal.
SMPP_STATUS = {
    "DELIVRD": ("DELIVERED", None),
    "ACCEPTD": ("DELIVERED", "accepted_on_behalf"),
    "EXPIRED": ("EXPIRED", "expired_in_network"),
    "DELETED": ("FAILED", "deleted_by_smsc"),
    "UNDELIV": ("UNDELIVERED", "undeliverable"),
    "UNKNOWN": ("UNDELIVERED", "unknown_final_state"),
    "REJECTD": ("REJECTED", "rejected_by_carrier"),
    "ENROUTE": ("SENT", None),
}


class UnattributableReport(ValueError):
    """A provider report for a message this pipeline cannot identify: it goes to dead-letter, not into the void."""


@dataclass(frozen=True)
class Normalized:
    """A provider status in Courrier's terms."""

    status: str
    reason: str | None


def normalize_smpp(stat: str) -> Normalized:
    """One SMPP ``stat`` value; an unknown word is reported as undelivered with the word as the reason."""
    status, reason = SMPP_STATUS.get(stat.strip().upper(), ("UNDELIVERED", f"unrecognized_status:{stat.strip()[:20]}"))
    return Normalized(status, reason)


def aggregate_parts(stats: list[str]) -> Normalized:
    """A long SMS reported part by part: all delivered → delivered; some → partially delivered; none → the first part's failure."""
    parts = [normalize_smpp(s) for s in stats]
    delivered = sum(p.status == "DELIVERED" for p in parts)
    if delivered == len(parts):
        return Normalized("DELIVERED", None)
    if delivered:
        return Normalized("PARTIALLY_DELIVERED", f"{delivered}_of_{len(parts)}_parts_delivered")
    return next(p for p in parts if p.status != "DELIVERED")


def cost_micros(channel: str, region: str, segments: int, prices: dict) -> int | None:
    """What a message costs: per segment for SMS, per message for MMS and RCS."""
    table = prices.get(channel) or {}
    unit = table.get(region, table.get("default"))
    if unit is None:
        return None
    return unit * (segments if channel == "SMS" else 1)


def load_prices(path: Path = PRICES) -> dict:
    return json.loads(path.read_text())


def sent(event: Event, prices: dict, now: datetime) -> Output:
    """``dispatched`` → a non-terminal ``sent`` receipt with segments, channel and cost."""
    ids = event["provider_message_ids"]
    return receipt(event["context"], event["recipient"]["e164"], "SENT", STAGE, now, channel=event["channel"],
                   fallback_reason=event.get("fallback_reason"), segments=event["segments"], provider=event["provider"],
                   provider_message_id=ids[0] if ids else None,
                   cost_micros=cost_micros(event["channel"], event["recipient"]["region"], event["segments"], prices),
                   currency=prices.get("currency"))


def reported(event: Event, prices: dict, now: datetime) -> Output:
    """``provider-events`` → the normalized receipt of the message it is about."""
    dispatched = event.get("dispatched")
    if dispatched is None:
        raise UnattributableReport(f"{event['provider']} reported {event['raw_status']} for provider id {event['provider_message_id']}, "
                                   "which no dispatched message of this pipeline carries")
    stats = event["raw_status"].split(",")
    normalized = aggregate_parts(stats) if len(stats) > 1 else normalize_smpp(stats[0])
    detail = f"provider error {event['error_code']}" if event.get("error_code") not in (None, "", "000", "0") else None
    return receipt(dispatched["context"], dispatched["recipient"]["e164"], normalized.status, STAGE, now,
                   reason=normalized.reason, detail=detail, channel=dispatched["channel"],
                   fallback_reason=dispatched.get("fallback_reason"), segments=dispatched["segments"],
                   provider=event["provider"], provider_message_id=event["provider_message_id"], provider_status=event["raw_status"],
                   cost_micros=cost_micros(dispatched["channel"], dispatched["recipient"]["region"], dispatched["segments"], prices),
                   currency=prices.get("currency"))
