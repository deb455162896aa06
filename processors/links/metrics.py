"""The link service's clicks on ``/metrics``: ``courrier_link_clicks_total{outcome}`` (written, failed, dropped), read
from the click recorder's own counters at scrape time, so a redirect costs no metric update."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector


class ClickCounts(Protocol):
    """What the metrics read of a click recorder (``processors.links.clicks.ClickRecorder``)."""

    written: int
    failed: int
    dropped: int


class ClickMetrics(Collector):
    """The recorder's counts, in a registry of their own (``registry``) for the app's ``/metrics``."""

    def __init__(self, clicks: ClickCounts) -> None:
        self._clicks = clicks
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for outcome in ("written", "failed", "dropped"):
            family.add_metric([outcome], getattr(self._clicks, outcome))
        return [family]

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily("courrier_link_clicks", "Clicks whose receipt the broker took (written), refused (failed), "
                                   "or that a full producer queue dropped; the redirect happened in every case", labels=["outcome"])
