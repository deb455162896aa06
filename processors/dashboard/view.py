"""What the live dashboard shows of one campaign or transactional flow, from its ``campaign-status`` rows (pure).

The rows are the status stage's receipt-fed counts (one per receipt partition, ``processors.status.logic``), so every
figure here is receipts counted, never a counter the dashboard keeps:

- deliverability per channel (RCS and the SMS fallback apart): ``DELIVERED`` receipts over the attempts settled on
  that channel (delivered, undelivered, failed or expired); attempts still on their way are shown as pending and do
  not lower it. Under ``THRESHOLD`` it is flagged;
- reads per channel (``READ`` receipts), clicks per button, the fallback rate (messages that left on another channel
  than asked, over messages);
- conversions (``POST /v1/conversions``, attributed to the campaign) by event, by variant, and their value;
- A/B variants: messages by current status per variant, and the verdict of a two-proportion test of each variant's
  click rate against the first variant's (``processors.analytics.stats``, as ``courrier report`` says it).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from processors.analytics.stats import compare
from processors.status.logic import FLOW_PREFIX

THRESHOLD = 0.95
SETTLED = ("DELIVERED", "PARTIALLY_DELIVERED", "UNDELIVERED", "FAILED", "EXPIRED")
REACHED = ("DELIVERED", "PARTIALLY_DELIVERED", "READ", "CLICKED")  # a message's current status once it was delivered
CHANNELS = ("RCS", "SMS", "MMS")


@dataclass(frozen=True)
class ChannelFigures:
    """One channel's attempts: sent, delivered, settled without delivery, still pending, read; the delivery rate."""

    channel: str
    sent: int
    delivered: int
    not_delivered: int
    read: int

    @property
    def pending(self) -> int:
        return max(0, self.sent - self.delivered - self.not_delivered)

    @property
    def deliverability(self) -> float | None:
        settled = self.delivered + self.not_delivered
        return self.delivered / settled if settled else None

    @property
    def flagged(self) -> bool:
        rate = self.deliverability
        return rate is not None and rate < THRESHOLD


@dataclass(frozen=True)
class VariantFigures:
    """One A/B variant: its messages, those delivered (or read or clicked since), those clicked, and the verdict of
    its click rate against the first variant (None for the first)."""

    name: str
    messages: int
    delivered: int
    clicked: int
    verdict: str | None
    conversions: int = 0


@dataclass(frozen=True)
class FlowFigures:
    """Everything the dashboard shows of one campaign or flow."""

    flow_id: str
    kind: str  # "campaign" or "flow"
    messages: int
    statuses: dict[str, int]
    channels: list[ChannelFigures]
    buttons: list[tuple[str, int]]
    fallbacks: int
    variants: list[VariantFigures]
    cost_micros: int
    currency: str | None
    updated_at: datetime
    conversions: dict[str, int] = field(default_factory=dict)
    conversion_values: dict[str, int] = field(default_factory=dict)

    @property
    def fallback_rate(self) -> float | None:
        return self.fallbacks / self.messages if self.messages else None

    @property
    def flagged(self) -> bool:
        return any(channel.flagged for channel in self.channels)


def figures(flow_id: str, rows: Iterable[Mapping[str, Any]]) -> FlowFigures | None:
    """The partitions' rows of one campaign or flow added up; None without any row."""
    found = list(rows)
    if not found:
        return None
    statuses = _sum(row["statuses"] for row in found)
    receipts: dict[tuple[str | None, str], int] = {}
    for row in found:
        for entry in row["receipts"]:
            which = (entry["channel"], entry["status"])
            receipts[which] = receipts.get(which, 0) + entry["count"]
    channels = [_channel(name, receipts) for name in CHANNELS if any(c == name for c, _ in receipts)]
    variants: dict[str, dict[str, int]] = {}
    for row in found:
        for name, counts in (row.get("variants") or {}).items():
            variants[name] = _sum([variants.get(name, {}), counts])
    buttons = _sum(row.get("buttons") or {} for row in found)
    by_variant = _sum(row.get("variant_conversions") or {} for row in found)
    currencies = sorted({row["currency"] for row in found if row.get("currency")})
    return FlowFigures(
        flow_id=flow_id, kind="flow" if flow_id.startswith(FLOW_PREFIX) else "campaign",
        messages=sum(row["messages"] for row in found), statuses=dict(sorted(statuses.items())), channels=channels,
        buttons=sorted(buttons.items(), key=lambda item: (-item[1], item[0])),
        fallbacks=sum(row.get("fallbacks") or 0 for row in found), variants=_variants(variants, by_variant),
        cost_micros=sum(row.get("cost_micros") or 0 for row in found), currency=",".join(currencies) or None,
        updated_at=max(row["updated_at"] for row in found),
        conversions=dict(sorted(_sum(row.get("conversions") or {} for row in found).items())),
        conversion_values=dict(sorted(_sum(row.get("conversion_value_micros") or {} for row in found).items())))


def active(rows: Iterable[Mapping[str, Any]], now: datetime, window: timedelta) -> list[FlowFigures]:
    """Every campaign and flow with a row written within ``window`` of ``now``: campaigns first, the latest first."""
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(row["campaign_id"], []).append(row)
    shown = [figures(flow_id, found) for flow_id, found in by_id.items()
             if max(row["updated_at"] for row in found) >= now - window]
    return sorted((f for f in shown if f is not None), key=lambda f: (f.kind != "campaign", -f.updated_at.timestamp(), f.flow_id))


def _channel(name: str, receipts: Mapping[tuple[str | None, str], int]) -> ChannelFigures:
    count = {status: n for (channel, status), n in receipts.items() if channel == name}
    delivered = count.get("DELIVERED", 0) + count.get("PARTIALLY_DELIVERED", 0)
    not_delivered = sum(count.get(status, 0) for status in SETTLED) - delivered
    return ChannelFigures(name, count.get("SENT", 0), delivered, not_delivered, count.get("READ", 0))


def _variants(variants: Mapping[str, Mapping[str, int]], conversions: Mapping[str, int]) -> list[VariantFigures]:
    shown = []
    for name in sorted(variants):
        counts = variants[name]
        delivered = sum(counts.get(status, 0) for status in REACHED)
        shown.append(VariantFigures(name, sum(counts.values()), delivered, counts.get("CLICKED", 0), None, conversions.get(name, 0)))
    if len(shown) < 2:
        return shown
    control = shown[0]
    return [control] + [replace(v, verdict=compare("click rate", "deliveries", control.name, control.clicked, control.delivered,
                                                   v.name, v.clicked, v.delivered).verdict()) for v in shown[1:]]


def _sum(maps: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in maps:
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    return total
