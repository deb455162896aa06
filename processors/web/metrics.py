"""``GET /metrics`` on a Courrier HTTP service, and its requests counted and timed.

Each service (intake, links, webhooks) serves Prometheus text on its own app and port: its requests by route template,
method and status with their durations (``courrier_http_requests_total``, ``courrier_http_request_duration_seconds``,
from prometheus-fastapi-instrumentator, in a registry of the app's own so several apps may share a test process), the
registries it is given, and the process-wide one (tables, process and GC figures: ``runtime.metrics.exposition``).
``/metrics`` needs no API key (``processors.access.scopes``): expose it on an internal network only.
"""
from __future__ import annotations

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator

from processors.runtime.metrics import exposition

UNMEASURED = ["/metrics", "/healthz"]  # scrapes and probes every few seconds would drown the requests that matter


def serve_metrics(app: FastAPI, *registries: CollectorRegistry) -> CollectorRegistry:
    """Count and time ``app``'s requests and add ``GET /metrics`` serving them with ``registries``; call before its
    other routes (a catch-all route such as the links' ``/{token}`` would take the path otherwise). Returns the app's
    request registry."""
    requests = CollectorRegistry()
    Instrumentator(registry=requests, excluded_handlers=UNMEASURED, should_group_status_codes=False).instrument(
        app, metric_namespace="courrier")

    def metrics() -> Response:
        """Prometheus text: this service's requests, its own counters, its tables and the process."""
        return Response(exposition(requests, *registries), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    return requests
