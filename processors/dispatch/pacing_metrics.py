"""Pacing on ``/metrics``: per sender, its limit, the messages waiting in its backlog and what it handed over.

Read from each tracked ``Pacer`` at scrape time (``Pacer.snapshot``), so pacing a message costs no metric update.
``rate(courrier_pacing_sent_messages_total[1m])`` is a sender's achieved messages per second,
``rate(courrier_pacing_sent_segments_total[1m])`` the same in segments, against ``courrier_pacing_limit_segments_per_second``.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from processors.dispatch.pacing import Pacer

LABELS = ["sender", "country", "channel"]


def sender_labels(key: str) -> list[str]:
    """``budget_key``'s ``sender_id|country|channel`` as label values (split from the right: a sender id may hold a ``|``)."""
    parts = key.rsplit("|", 2)
    return parts if len(parts) == 3 else [key, "", ""]


class PacingMetrics(Collector):
    """The pacing figures of every tracked pacer of this process (held weakly)."""

    def __init__(self) -> None:
        self._pacers: weakref.WeakSet[Pacer] = weakref.WeakSet()
        self._lock = threading.Lock()

    def track(self, pacer: Pacer) -> Pacer:
        """Report ``pacer`` on ``/metrics`` while it lives; returns it."""
        with self._lock:
            self._pacers.add(pacer)
        return pacer

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        limit, backlog, messages, segments = families = self._families()
        with self._lock:
            pacers = list(self._pacers)
        for pacer in pacers:
            for pace in pacer.snapshot():
                labels = sender_labels(pace.key)
                limit.add_metric(labels, pace.rate)
                backlog.add_metric(labels, pace.backlog)
                messages.add_metric(labels, pace.messages)
                segments.add_metric(labels, pace.segments)
        return families

    @staticmethod
    def _families() -> list[Metric]:
        return [
            GaugeMetricFamily("courrier_pacing_limit_segments_per_second", "A sender's limit, in segments per second", labels=LABELS),
            GaugeMetricFamily("courrier_pacing_backlog", "Messages of a sender waiting in the scheduled topic for their slot",
                              labels=LABELS),
            CounterMetricFamily("courrier_pacing_sent_messages", "Messages a sender handed to a provider (rate(): achieved MPS)",
                                labels=LABELS),
            CounterMetricFamily("courrier_pacing_sent_segments", "Segments a sender handed to a provider", labels=LABELS),
        ]


PACING = PacingMetrics()
REGISTRY.register(PACING)
