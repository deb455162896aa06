"""Business outcomes counted from what a stage writes: receipts, fallbacks and end-to-end latency.

Every stage's outputs pass through the runtime's routing, which hands the values written to ``receipt`` and
``dispatched`` to ``OutcomeMetrics.observe`` once per batch (``routing.Tally.observed``). No stage counts its own
outcomes, so a new stage that writes receipts is counted without a line of metrics code.

What is measured, all from fields the events carry (``context.requested_at`` is stamped once, at intake):
- ``courrier_receipts_total{stage,status,channel,reason}``: every receipt written, by the stage that wrote it;
- ``courrier_fallbacks_total{reason,channel}``: messages dispatched on a channel other than the one asked for;
- ``courrier_submit_latency_seconds{lane,channel}``: ``send-requested`` → the provider acknowledged the submit;
- ``courrier_terminal_latency_seconds{stage,lane,channel}``: ``send-requested`` → the message's terminal receipt (its
  ``_count`` is the terminal receipts written, by the stage that wrote them: ``receipt`` and ``dispatch`` for the
  messages that were submitted, which is what the alert comparing them with submits needs).

Prometheus updates take a lock each, so a batch is first tallied in plain dicts and each label set is updated once.
Outcomes are counted as the batch is written, like the runtime's counters: a batch aborted and processed again (a
failed commit) counts twice; a rate over minutes hides it, an exact count per message is ``courrier report``'s job.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tallies
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from threading import Lock
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

# From an OTP answered in a second to a campaign deferred overnight by quiet hours.
LATENCY_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0)
OBSERVED_TOPICS = frozenset({"receipt", "dispatched"})
"""The logical topics whose written values routing hands to ``OutcomeMetrics``."""
NONE = "none"  # the label value of an absent channel or reason (Prometheus has no null)


class BatchHistogram(Collector):
    """A histogram fed a batch of values at once: one lock per batch and label set, where ``Histogram.observe`` takes one
    per value. Exposed as a normal Prometheus histogram (``_bucket``, ``_sum``, ``_count``)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float],
                 registry: CollectorRegistry) -> None:
        self.name = name
        self._doc = documentation
        self._labelnames = list(labelnames)
        self._bounds = sorted(buckets)
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}  # labels → (count per bucket + inf, [sum])
        self._lock = Lock()
        registry.register(self)

    def observe_many(self, labels: tuple[str, ...], values: Iterable[float]) -> None:
        """Add ``values`` to the series of ``labels`` (one value per label name)."""
        counts = [0] * (len(self._bounds) + 1)
        total = 0.0
        for value in values:
            counts[bisect_left(self._bounds, value)] += 1  # le: a value equal to a bound falls in that bound's bucket
            total += value
        with self._lock:
            series = self._series.setdefault(labels, ([0] * len(counts), [0.0]))
            for index, n in enumerate(counts):
                series[0][index] += n
            series[1][0] += total

    def describe(self) -> Iterable[Metric]:
        return [HistogramMetricFamily(self.name, self._doc, labels=self._labelnames)]

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self._doc, labels=self._labelnames)
        with self._lock:
            snapshot = [(labels, list(counts), total[0]) for labels, (counts, total) in self._series.items()]
        for labels, counts, total in snapshot:
            cumulative, buckets = 0, []
            for bound, n in zip([*map(_bound, self._bounds), "+Inf"], counts):
                cumulative += n
                buckets.append((bound, cumulative))
            family.add_metric(list(labels), buckets, total)
        yield family


def _bound(value: float) -> str:
    return repr(float(value))


class OutcomeMetrics:
    """The business-outcome metrics of one stage process, in its registry."""

    def __init__(self, stage: str, registry: CollectorRegistry) -> None:
        self.stage = stage
        self.receipts = Counter("courrier_receipts", "Receipts written, by the stage that wrote them, status, channel and reason",
                                ["stage", "status", "channel", "reason"], registry=registry)
        self.fallbacks = Counter("courrier_fallbacks", "Messages dispatched on another channel than the one asked for, by reason",
                                 ["reason", "channel"], registry=registry)
        self.submit_latency = BatchHistogram(
            "courrier_submit_latency_seconds", "From send-requested (context.requested_at) to the provider's submit acknowledgement",
            ["lane", "channel"], LATENCY_BUCKETS, registry)
        self.terminal_latency = BatchHistogram(
            "courrier_terminal_latency_seconds", "From send-requested (context.requested_at) to the message's terminal receipt",
            ["stage", "lane", "channel"], LATENCY_BUCKETS, registry)

    def observe(self, written: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Count one batch's written ``(logical topic, value)`` pairs (topics outside ``OBSERVED_TOPICS`` are ignored)."""
        receipts: Tallies[tuple[str, str, str]] = Tallies()
        fallbacks: Tallies[tuple[str, str]] = Tallies()
        submitted: dict[tuple[str, str], list[float]] = {}
        terminal: dict[tuple[str, str], list[float]] = {}
        for topic, value in written:
            if topic == "receipt":
                channel = value.get("channel") or NONE
                receipts[(str(value["status"]), channel, value.get("reason") or NONE)] += 1
                if value.get("terminal"):
                    _add(terminal, value, channel, value.get("occurred_at"))
            elif topic == "dispatched":
                channel = value.get("channel") or NONE
                if value.get("fallback_reason"):
                    fallbacks[(value["fallback_reason"], channel)] += 1
                _add(submitted, value, channel, value.get("submitted_at"))
        for (status, channel, reason), n in receipts.items():
            self.receipts.labels(self.stage, status, channel, reason).inc(n)
        for (reason, channel), n in fallbacks.items():
            self.fallbacks.labels(reason, channel).inc(n)
        for labels, values in submitted.items():
            self.submit_latency.observe_many(labels, values)
        for (lane, channel), values in terminal.items():
            self.terminal_latency.observe_many((self.stage, lane, channel), values)


def _add(into: dict[tuple[str, str], list[float]], value: Mapping[str, Any], channel: str, at: Any) -> None:
    """Add the seconds from the message's request to ``at`` under (lane, channel); skipped when a time is missing."""
    context = value.get("context") or {}
    requested = _millis(context.get("requested_at"))
    happened = _millis(at)
    if requested is None or happened is None:
        return
    # A clock a little behind intake's would give a negative latency: it is zero as far as anyone can tell.
    into.setdefault((str(context.get("lane") or NONE), channel), []).append(max(0, happened - requested) / 1000.0)


def _millis(at: Any) -> int | None:
    """Epoch milliseconds of a ``timestamp-millis`` field, written as a datetime or as milliseconds (integers: a float of
    epoch seconds would lose the sub-millisecond differences that make a short latency)."""
    if isinstance(at, datetime):  # naive: UTC, as fastavro writes it; rounded to the field's own millisecond
        return round((at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp() * 1000)
    if isinstance(at, int):
        return at
    return None
