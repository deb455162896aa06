"""Each HTTP service (intake, links, webhooks) on a real broker serves GET /metrics without an API key: its requests by
route template and status, its own counters, its tables and the process figures."""
from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from common.config import Settings
from processors.links.app import create_app as links_app
from processors.webhooks.api import create_app as webhooks_app
from sim.testing import served_in_thread
from tests.processors.intake.intake_server import serve as serve_intake


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """``GET /metrics`` parsed: sample name → [(labels, value)]; every declared family name too, with []."""
    answer = httpx.get(f"{url}/metrics", timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(answer.text):
        samples.setdefault(family.name, [])
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float | None:
    found = [v for sample_labels, v in samples.get(name, []) if labels.items() <= sample_labels.items()]
    return sum(found) if found else None


def test_the_intake_counts_its_requests_and_shows_its_tables(topic_settings: Settings) -> None:
    with serve_intake(topic_settings) as served:
        with served.client() as client:
            assert client.post("/v1/messages", json={"template_id": "nope", "recipient": "+33612345678"}).status_code == 422
        samples = scrape(served.url)
    assert value(samples, "courrier_http_requests_total", handler="/v1/messages", method="POST", status="422") == 1
    assert value(samples, "courrier_http_request_duration_seconds_count", handler="/v1/messages") == 1
    assert value(samples, "courrier_table_rows", topic="idempotency") is not None  # the test process may hold others
    assert value(samples, "courrier_table_rows", topic="api-keys") >= 1  # the key the helper wrote before start
    assert value(samples, "process_cpu_seconds_total") is not None
    assert value(samples, "courrier_http_requests_total", handler="/metrics") is None  # scrapes are not requests that matter


def test_the_link_service_counts_clicks_and_requests_under_the_route_template(topic_settings: Settings) -> None:
    with served_in_thread(links_app(topic_settings), "links-metrics-test") as url:
        assert httpx.get(f"{url}/abcDEF123456", timeout=10).status_code == 404  # no such link
        samples = scrape(url)
    assert value(samples, "courrier_http_requests_total", handler="/{token}", status="404") == 1
    assert value(samples, "courrier_link_clicks_total", outcome="written") == 0
    assert value(samples, "courrier_table_rows", topic="links") is not None  # the test process may hold others


def test_the_webhook_receiver_counts_refusals_and_requests(topic_settings: Settings) -> None:
    settings = topic_settings.model_copy(update={"webhook_secret": SecretStr("s" * 32)})
    with served_in_thread(webhooks_app(settings), "webhooks-metrics-test") as url:
        assert httpx.post(f"{url}/webhooks/sim", content=b"{}", timeout=10).status_code == 401  # unsigned
        samples = scrape(url)
    assert value(samples, "courrier_webhook_rejected_total", provider="sim") == 1
    assert value(samples, "courrier_http_requests_total", handler="/webhooks/{provider}", status="401") == 1
    assert "courrier_webhook_accepted" in samples
