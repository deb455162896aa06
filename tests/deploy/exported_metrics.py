"""Every metric name the code exports, as PromQL sees it (a counter's ``_total``, a histogram's ``_bucket``…), and the
metric names a PromQL expression reads: what the dashboard and alert tests hold against each other."""
from __future__ import annotations

import importlib
import re
from functools import lru_cache
from pathlib import Path

import promql_parser
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

ROOT = Path(__file__).resolve().parents[2]
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
             "summary": ("", "_sum", "_count", "_created"), "gauge": ("",), "info": ("_info",), "untyped": ("",)}
# Grafana's variables, replaced by a value of their kind so the expression parses as Prometheus would receive it.
_GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def _families(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Each metric name of ``registry`` as PromQL selects it, with its label names (read from the collectors: a labelled
    metric never set has no sample to read them from)."""
    found: dict[str, set[str]] = {}
    for collector in list(registry._collector_to_names):  # noqa: SLF001 (the registry lists its collectors nowhere else)
        if isinstance(collector, MetricWrapperBase):
            families = [(collector._name, collector._type, collector._labelnames)]  # noqa: SLF001
        else:
            families = [(f.name, f.type, getattr(f, "_labelnames", ())) for f in collector.collect()]
        for name, kind, labels in families:
            for suffix in _SUFFIXES[kind]:
                found.setdefault(name + suffix, set()).update(labels, {"le"} if suffix == "_bucket" else ())
    return found


@lru_cache(maxsize=1)
def exported() -> dict[str, frozenset[str]]:
    """Every metric a Courrier process can export, by name, with its label names: each module under ``processors/`` that uses
    prometheus_client is imported (its module-level metrics land in the process-wide registry), and the per-instance
    registries are built: a stage's, the webhook receiver's, the link service's clicks and an HTTP app's requests."""
    for path in sorted((ROOT / "processors").rglob("*.py")):
        if "prometheus_client" in path.read_text():
            importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    from processors.links.metrics import ClickMetrics
    from processors.runtime.metrics import StageMetrics
    from processors.web.metrics import serve_metrics
    from processors.webhooks.service import WebhookMetrics

    class Clicks:
        written = failed = dropped = 0

    app = FastAPI()
    requests = serve_metrics(app)
    TestClient(app).get("/metrics")  # the instrumentator creates its metrics with the app's middleware stack
    registries = [REGISTRY, StageMetrics("any").registry, WebhookMetrics().registry, ClickMetrics(Clicks()).registry, requests]
    merged: dict[str, set[str]] = {}
    for registry in registries:
        for name, labels in _families(registry).items():
            merged.setdefault(name, set()).update(labels)
    return {name: frozenset(labels) for name, labels in merged.items()}


def read_metrics(expr: str) -> dict[str, set[str]]:
    """The metric names a PromQL expression (Grafana variables allowed) selects, each with the label names its selectors
    match on; raises ValueError when it does not parse."""
    for variable, value in _GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    expr = re.sub(r"\$\{?\w+\}?", "x", expr)  # a template variable such as $stage, inside a label matcher's quotes
    names: dict[str, set[str]] = {}

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.setdefault(node.name, set()).update(m.name for m in node.matchers.matchers if m.name != "__name__")

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def grouping_labels(expr: str) -> set[str]:
    """The label names an expression aggregates ``by``: each must be a label of the metrics it reads."""
    return {label for group in re.findall(r"\bby\s*\(([^)]*)\)", expr) for label in re.split(r"\s*,\s*", group.strip()) if label}
