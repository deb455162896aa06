"""Prometheus reaches every pod: the stages serve /metrics on the pod's address, and each pod template says where to
scrape it (its one container port)."""
from __future__ import annotations

from common.config import Settings
from processors.config_example import example
from infra.k8s.render import manifests
from infra.k8s.target import Target


def test_every_pod_is_annotated_for_scraping_on_its_container_port() -> None:
    files = manifests(Settings(topic_prefix="prod-"), Target(config_text=example()))
    deployments = [doc for docs in files.values() for doc in docs if doc["kind"] == "Deployment"]
    assert deployments
    for deployment in deployments:
        template = deployment["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        (port,) = template["spec"]["containers"][0]["ports"]
        assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(port["containerPort"]),
                               "prometheus.io/path": "/metrics"}, deployment["metadata"]["name"]


def test_stages_serve_metrics_beyond_the_pod_s_loopback() -> None:
    files = manifests(Settings(), Target(config_text=example()))
    env = next(doc for docs in files.values() for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("-env"))
    assert env["data"]["COURRIER_METRICS_HOST"] == "0.0.0.0"
    assert Settings.model_validate({"metrics_host": env["data"]["COURRIER_METRICS_HOST"]}).metrics_host == "0.0.0.0"
