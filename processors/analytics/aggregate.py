"""Receipts → a report's figures: the funnel per arm and channel, RCS vs SMS rates, fallbacks, delivery latency, clicks,
segments and cost. Pure: the caller reads the topics and says which arm (A/B variant or template) each message is in.

Counts are messages, not receipts: a message counts once in each step it reached on a channel (``sent`` then
``delivered`` on SMS; ``sent`` on RCS, then ``sent`` and ``delivered`` on SMS after a fallback), so a receipt read
twice changes nothing but the number of receipts read; a click counts once per ``receipt_id`` and time. ``requested`` is every message the caller added a request for, plus any
message seen only through its receipts (its request may be past ``send-requested``'s retention).

Cost and segments are billed per attempt: every receipt of an attempt repeats them (``processors.receipt.logic``), so
each (message, channel) is counted once. Delivery latency is from the request (``context.requested_at``) to the
attempt's first ``DELIVERED``.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Mapping

FUNNEL = ("requested", "suppressed", "rejected", "sent", "delivered", "read", "clicked", "failed", "expired")
STEPS = FUNNEL[1:]  # the steps a receipt reaches (requested is a request, not a receipt)
_STEP_INDEX = {step: n for n, step in enumerate(STEPS)}
# Receipt statuses → funnel step; the others (DEFERRED, DUPLICATE, UNKNOWN) are counted apart, under `other`.
STEP_OF = {"SUPPRESSED": "suppressed", "REJECTED": "rejected", "SENT": "sent", "DELIVERED": "delivered",
           "PARTIALLY_DELIVERED": "delivered", "READ": "read", "CLICKED": "clicked", "FAILED": "failed",
           "UNDELIVERED": "failed", "EXPIRED": "expired"}
NO_CHANNEL = "none"  # suppressed and rejected messages never got a channel
# Delivery latency histogram edges, in seconds (the last bucket is open-ended).
LATENCY_EDGES = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


class _Message:
    """What a report keeps of one message, small since a campaign has millions: the funnel steps reached per channel
    as bits of one int (``Aggregator._bit``), the other statuses likewise, and per channel the delivery latency and
    what the attempt was billed."""

    __slots__ = ("arm", "steps", "other", "fallback_reason", "latency", "billed")

    def __init__(self, arm: str) -> None:
        self.arm = arm
        self.steps = 0
        self.other = 0
        self.fallback_reason: str | None = None
        self.latency: dict[int, float] | None = None  # channel index → seconds from request to first DELIVERED
        self.billed: dict[int, tuple[int | None, str | None, int | None]] | None = None  # channel index → cost, currency, segments


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
        self._channels: dict[str, int] = {NO_CHANNEL: 0}  # channel → index of its group of step bits
        self._others: dict[str, int] = {}  # status outside the funnel → its bit
        self._clicks: dict[tuple[str, str], list[str]] = defaultdict(list)  # (kind, target) → message id per click
        self._seen_clicks: set[tuple[Any, ...]] = set()
        self._receipts = 0

    def add_request(self, message_id: str, arm: str) -> None:
        """A ``send-requested`` record of ``arm``."""
        self._message(message_id, arm)

    def add_receipt(self, receipt: Mapping[str, Any], arm: str) -> None:
        """A ``receipt`` value (as decoded) of a message in ``arm``. Adding a copy again changes no count but
        ``receipts`` (steps are sets, the first delivery and billing win, a click is known by its id and time)."""
        self._receipts += 1
        context = receipt["context"]
        message = self._message(context["message_id"], arm)
        channel = receipt.get("channel") or NO_CHANNEL
        index = self._channels.setdefault(channel, len(self._channels))
        status = receipt["status"]
        step = STEP_OF.get(status)
        if step is None:
            message.other |= 1 << self._others.setdefault(status, len(self._others))
        else:
            message.steps |= _bit(index, step)
        message.fallback_reason = message.fallback_reason or receipt.get("fallback_reason")
        if step == "delivered" and context.get("requested_at") is not None:
            latency = message.latency = message.latency or {}
            # A provider's clock a little behind ours must not make a negative latency.
            latency.setdefault(index, max(0.0, (receipt["occurred_at"] - context["requested_at"]).total_seconds()))
        if channel != NO_CHANNEL and (receipt.get("cost_micros") is not None or receipt.get("segments") is not None):
            billed = message.billed = message.billed or {}
            billed.setdefault(index, (receipt.get("cost_micros"), receipt.get("currency"), receipt.get("segments")))
        if status == "CLICKED":
            identity = (receipt.get("receipt_id"), context["message_id"], receipt["occurred_at"])
            if identity not in self._seen_clicks:
                self._seen_clicks.add(identity)
                self._clicks[_click_target(receipt)].append(context["message_id"])

    def _message(self, message_id: str, arm: str) -> _Message:
        message = self._messages.get(message_id)
        if message is None:
            message = self._messages[message_id] = _Message(arm)
        return message

    def summary(self) -> Summary:
        """The figures of everything added so far."""
        names = {index: channel for channel, index in self._channels.items()}
        others = {bit: status for status, bit in self._others.items()}
        by_arm: dict[str, list[_Message]] = defaultdict(list)
        for message in self._messages.values():
            by_arm[message.arm].append(message)
        arms = sorted(by_arm)
        sent = [m for m in self._messages.values() if m.steps >> len(STEPS)]  # some step on a real channel
        return Summary(
            receipts=self._receipts, messages=len(self._messages),
            arms=[_arm_totals(arm, by_arm[arm], others) for arm in arms],
            funnel=_funnel(by_arm, arms, names), channels=_channel_rates(self._messages.values(), names),
            fallback_rate=_ratio(sum(1 for m in sent if m.fallback_reason), len(sent)),
            fallback_reasons=dict(Counter(m.fallback_reason for m in self._messages.values() if m.fallback_reason).most_common()),
            latency=_latencies(self._messages.values(), names),
            clicks=sorted((Clicks(kind, target, len(ids), len(set(ids))) for (kind, target), ids in self._clicks.items()),
                          key=lambda c: (-c.clicks, c.kind, c.target)),
        )


def _bit(channel_index: int, step: str) -> int:
    return 1 << (channel_index * len(STEPS) + _STEP_INDEX[step])


def _steps_on(message: _Message, channel_index: int) -> list[str]:
    group = message.steps >> (channel_index * len(STEPS))
    return [step for n, step in enumerate(STEPS) if group >> n & 1]


def _any_channel(steps: int) -> int:
    """The step bits a message reached on any channel: its channels' groups of bits OR-ed together."""
    folded, group = 0, (1 << len(STEPS)) - 1
    while steps:
        folded |= steps & group
        steps >>= len(STEPS)
    return folded


def _click_target(receipt: Mapping[str, Any]) -> tuple[str, str]:
    """The links service writes the URL clicked as the detail; an RCS suggestion tap comes from the provider's report,
    its receipt naming the button (``button:<n>``, ``processors.rules.buttons``) when the postback data said which."""
    if receipt.get("stage") == "links":
        return "link", receipt.get("detail") or "(URL not recorded)"
    unnamed = f"{receipt.get('provider') or 'provider'} (button not recorded on receipts)"
    return "rcs suggestion", receipt.get("reason") or receipt.get("detail") or unnamed


def _arm_totals(arm: str, messages: list[_Message], others: dict[int, str]) -> ArmTotals:
    reached: Counter[int] = Counter(_any_channel(m.steps) for m in messages)  # step bits on some channel → messages
    steps = {step: sum(count for bits, count in reached.items() if bits >> n & 1) for n, step in enumerate(STEPS)}
    cost: Counter[str] = Counter()
    segments = 0
    for message in messages:
        for micros, currency, parts in (message.billed or {}).values():
            if micros is not None:
                cost[currency or "?"] += micros
            segments += parts or 0
    other = Counter(status for m in messages for bit, status in others.items() if m.other >> bit & 1)
    return ArmTotals(arm=arm, steps={"requested": len(messages), **steps}, other=dict(other),
                     fallbacks=sum(1 for m in messages if m.fallback_reason), segments=segments, cost_micros=dict(cost))


def _funnel(by_arm: dict[str, list[_Message]], arms: list[str], names: dict[int, str]) -> list[tuple[str, str, dict[str, int]]]:
    rows = []
    for arm in arms:
        for index, channel in sorted(names.items(), key=lambda item: item[1]):
            counts = Counter(step for m in by_arm[arm] for step in _steps_on(m, index))
            if counts:
                rows.append((arm, channel, {step: counts[step] for step in STEPS}))
    return rows


def _channel_rates(messages: Any, names: dict[int, str]) -> list[ChannelRates]:
    rates = []
    for index, channel in sorted(names.items(), key=lambda item: item[1]):
        if channel == NO_CHANNEL:
            continue
        c = Counter(step for m in messages for step in _steps_on(m, index))
        if c:
            rates.append(ChannelRates(channel, c["sent"], c["delivered"], c["read"], _ratio(c["delivered"], c["sent"]),
                                      _ratio(c["read"], c["delivered"])))
    return rates


def _latencies(messages: Any, names: dict[int, str]) -> list[Latency]:
    seconds: dict[str, list[float]] = defaultdict(list)
    for message in messages:
        for index, value in (message.latency or {}).items():
            seconds[names[index]].append(value)
    return [_latency(channel, sorted(values)) for channel, values in sorted(seconds.items())]


def _latency(channel: str, values: list[float]) -> Latency:
    histogram = [0] * len(LATENCY_EDGES)
    for value in values:
        histogram[bisect_right(LATENCY_EDGES, value) - 1] += 1
    return Latency(channel, len(values), percentile(values, 50), percentile(values, 90), percentile(values, 99), values[-1], histogram)


def percentile(ordered: list[float], pct: float) -> float:
    """The nearest-rank ``pct`` percentile of a non-empty sorted list: a value that occurred, never an interpolation."""
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
