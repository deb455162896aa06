"""Receipts → a report's figures: the funnel per arm and channel, RCS vs SMS rates, fallbacks, delivery latency, clicks,
segments and cost. Pure: the caller reads the topics and says which arm (A/B variant or template) each message is in.

Counts are messages, not receipts: a message counts once in each step it reached on a channel (``sent`` then
``delivered`` on SMS; ``sent`` on RCS, then ``sent`` and ``delivered`` on SMS after a fallback). A receipt read twice
(same ``receipt_id`` and time) counts once. ``requested`` is every message the caller added a request for, plus any
message seen only through its receipts (its request may be past ``send-requested``'s retention).

Cost and segments are billed per attempt: every receipt of an attempt repeats them (``processors.receipt.logic``), so
each (message, channel) is counted once. Delivery latency is from the request (``context.requested_at``) to the
attempt's first ``DELIVERED``.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

FUNNEL = ("requested", "suppressed", "rejected", "sent", "delivered", "read", "clicked", "failed", "expired")
# Receipt statuses → funnel step; the others (DEFERRED, DUPLICATE, UNKNOWN) are counted apart, under `other`.
STEP_OF = {"SUPPRESSED": "suppressed", "REJECTED": "rejected", "SENT": "sent", "DELIVERED": "delivered",
           "PARTIALLY_DELIVERED": "delivered", "READ": "read", "CLICKED": "clicked", "FAILED": "failed",
           "UNDELIVERED": "failed", "EXPIRED": "expired"}
NO_CHANNEL = "none"  # suppressed and rejected messages never got a channel
# Delivery latency histogram edges, in seconds (the last bucket is open-ended).
LATENCY_EDGES = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


@dataclass
class _Message:
    arm: str
    requested: bool = False
    steps: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # channel → steps reached
    other: set[str] = field(default_factory=set)
    fallback_reason: str | None = None
    requested_at: datetime | None = None
    delivered_at: dict[str, datetime] = field(default_factory=dict)  # channel → first DELIVERED
    billed: dict[str, tuple[int | None, str | None, int | None]] = field(default_factory=dict)  # channel → cost, currency, segments


@dataclass(frozen=True)
class ArmTotals:
    """One arm's messages per funnel step (any channel), its fallbacks, segments and cost per currency (micros)."""

    arm: str
    steps: dict[str, int]
    other: dict[str, int]
    fallbacks: int
    segments: int
    cost_micros: dict[str, int]


@dataclass(frozen=True)
class ChannelRates:
    """Messages sent, delivered and read on one channel; rates are None with no denominator."""

    channel: str
    sent: int
    delivered: int
    read: int
    delivery_rate: float | None
    read_rate: float | None


@dataclass(frozen=True)
class Latency:
    """Seconds from request to delivery on one channel: percentiles and histogram counts over ``LATENCY_EDGES``."""

    channel: str
    count: int
    p50: float
    p90: float
    p99: float
    max: float
    histogram: list[int]


@dataclass(frozen=True)
class Clicks:
    """Clicks on one target: a short link (its URL) or an RCS suggestion."""

    kind: str
    target: str
    clicks: int
    messages: int


@dataclass(frozen=True)
class Summary:
    """Every figure a report shows; ``funnel`` rows are (arm, channel, step → messages)."""

    receipts: int
    messages: int
    arms: list[ArmTotals]
    funnel: list[tuple[str, str, dict[str, int]]]
    channels: list[ChannelRates]
    fallback_rate: float | None
    fallback_reasons: dict[str, int]
    latency: list[Latency]
    clicks: list[Clicks]


class Aggregator:
    """Add requests and receipts in any order, then read ``summary()``."""

    def __init__(self) -> None:
        self._messages: dict[str, _Message] = {}
        self._seen: set[tuple[Any, ...]] = set()
        self._clicks: dict[tuple[str, str], list[str]] = defaultdict(list)  # (kind, target) → message id per click
        self._receipts = 0

    def add_request(self, message_id: str, arm: str) -> None:
        """A ``send-requested`` record of ``arm``."""
        self._message(message_id, arm).requested = True

    def add_receipt(self, receipt: Mapping[str, Any], arm: str) -> None:
        """A ``receipt`` value (as decoded) of a message in ``arm``; an exact copy of one already added is ignored."""
        context = receipt["context"]
        identity = (receipt.get("receipt_id"), context["message_id"], receipt["status"], receipt["occurred_at"])
        if identity in self._seen:
            return
        self._seen.add(identity)
        self._receipts += 1
        message = self._message(context["message_id"], arm)
        message.requested_at = context.get("requested_at") or message.requested_at
        channel = receipt.get("channel") or NO_CHANNEL
        status = receipt["status"]
        step = STEP_OF.get(status)
        if step is None:
            message.other.add(status)
        else:
            message.steps[channel].add(step)
        message.fallback_reason = message.fallback_reason or receipt.get("fallback_reason")
        if step == "delivered" and channel not in message.delivered_at:
            message.delivered_at[channel] = receipt["occurred_at"]
        if channel != NO_CHANNEL and (receipt.get("cost_micros") is not None or receipt.get("segments") is not None):
            message.billed.setdefault(channel, (receipt.get("cost_micros"), receipt.get("currency"), receipt.get("segments")))
        if status == "CLICKED":
            self._clicks[_click_target(receipt)].append(context["message_id"])

    def _message(self, message_id: str, arm: str) -> _Message:
        message = self._messages.get(message_id)
        if message is None:
            message = self._messages[message_id] = _Message(arm)
        return message

    def summary(self) -> Summary:
        """The figures of everything added so far."""
        messages = self._messages.values()
        arms = sorted({m.arm for m in messages})
        return Summary(
            receipts=self._receipts, messages=len(self._messages),
            arms=[_arm_totals(arm, [m for m in messages if m.arm == arm]) for arm in arms],
            funnel=_funnel(messages, arms), channels=_channel_rates(messages),
            fallback_rate=_ratio(sum(1 for m in messages if m.fallback_reason), sum(1 for m in messages if _channels(m))),
            fallback_reasons=dict(Counter(m.fallback_reason for m in messages if m.fallback_reason).most_common()),
            latency=_latencies(messages),
            clicks=sorted((Clicks(kind, target, len(ids), len(set(ids))) for (kind, target), ids in self._clicks.items()),
                          key=lambda c: (-c.clicks, c.kind, c.target)),
        )


def _click_target(receipt: Mapping[str, Any]) -> tuple[str, str]:
    """The links service writes the URL clicked as the detail; an RCS suggestion tap comes from the provider's report."""
    if receipt.get("stage") == "links":
        return "link", receipt.get("detail") or "(URL not recorded)"
    return "rcs suggestion", receipt.get("detail") or f"{receipt.get('provider') or 'provider'} (button not recorded on receipts)"


def _channels(message: _Message) -> set[str]:
    return {channel for channel in message.steps if channel != NO_CHANNEL}


def _reached(message: _Message, step: str) -> bool:
    return any(step in steps for steps in message.steps.values())


def _arm_totals(arm: str, messages: list[_Message]) -> ArmTotals:
    steps = {step: sum(1 for m in messages if _reached(m, step)) for step in FUNNEL[1:]}
    cost: Counter[str] = Counter()
    segments = 0
    for message in messages:
        for micros, currency, parts in message.billed.values():
            if micros is not None:
                cost[currency or "?"] += micros
            segments += parts or 0
    return ArmTotals(arm=arm, steps={"requested": len(messages), **steps},
                     other=dict(Counter(status for m in messages for status in m.other)),
                     fallbacks=sum(1 for m in messages if m.fallback_reason), segments=segments, cost_micros=dict(cost))


def _funnel(messages: Any, arms: list[str]) -> list[tuple[str, str, dict[str, int]]]:
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for message in messages:
        for channel, steps in message.steps.items():
            counts[(message.arm, channel)].update(steps)
    order = {arm: n for n, arm in enumerate(arms)}
    return [(arm, channel, {step: counter[step] for step in FUNNEL[1:]})
            for (arm, channel), counter in sorted(counts.items(), key=lambda item: (order[item[0][0]], item[0][1]))]


def _channel_rates(messages: Any) -> list[ChannelRates]:
    reached: dict[str, Counter[str]] = defaultdict(Counter)
    for message in messages:
        for channel, steps in message.steps.items():
            if channel != NO_CHANNEL:
                reached[channel].update(steps)
    return [ChannelRates(channel, c["sent"], c["delivered"], c["read"], _ratio(c["delivered"], c["sent"]), _ratio(c["read"], c["delivered"]))
            for channel, c in sorted(reached.items())]


def _latencies(messages: Any) -> list[Latency]:
    seconds: dict[str, list[float]] = defaultdict(list)
    for message in messages:
        if message.requested_at is None:
            continue
        for channel, at in message.delivered_at.items():
            # A provider's clock a little behind ours must not make a negative latency.
            seconds[channel].append(max(0.0, (at - message.requested_at).total_seconds()))
    return [_latency(channel, sorted(values)) for channel, values in sorted(seconds.items())]


def _latency(channel: str, values: list[float]) -> Latency:
    histogram = [0] * len(LATENCY_EDGES)
    for value in values:
        histogram[max(n for n, edge in enumerate(LATENCY_EDGES) if value >= edge)] += 1
    return Latency(channel, len(values), percentile(values, 50), percentile(values, 90), percentile(values, 99), values[-1], histogram)


def percentile(ordered: list[float], pct: float) -> float:
    """The nearest-rank ``pct`` percentile of a non-empty sorted list: a value that occurred, never an interpolation."""
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
