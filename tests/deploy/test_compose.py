"""deploy/compose.yaml, checked against the code: every stage and lane as the Kubernetes workloads run them, one
image, consistent addresses, ports and secrets."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import json

import jsonschema
import pytest
import yaml

from common.config import Settings
from infra.k8s.workloads import METRICS_PORT, workloads
from processors.catalog import LANED, STAGE_NAMES
from processors.runtime.lanes import LANES

CHAINED = {"dispatch", *LANED}

ROOT = Path(__file__).resolve().parents[2]
PARTS = {"kafka", "registry", "s3", "s3-bucket", "smsc"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    """deploy/schemas/compose-spec.json (the specification's own schema, its source in its $comment)."""
    schema = json.loads((ROOT / "deploy" / "schemas" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(compose)
    consent = compose["services"]["consent-marketing"]
    broken = {**compose, "services": {**compose["services"], "consent-marketing": {**consent, "comand": ["run"]}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def courrier_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s.get("image") == "courrier:local"}


def test_every_stage_lane_and_http_service_runs_as_on_kubernetes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for workload in workloads(Settings()):
        service = services[workload.name]
        assert service["command"] == list(workload.args), workload.name
        assert service["stop_grace_period"] == f"{workload.grace_s}s", workload.name  # as long as on Kubernetes
        for key, value in workload.env.items():
            assert service["environment"][key] == value
    names = set(services)
    assert {s for s in STAGE_NAMES if s not in CHAINED} <= names
    assert {f"{stage}-{lane.lower()}" for stage in CHAINED for lane in LANES} <= names


def test_one_image_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    ours = courrier_services(compose)
    assert set(ours) == {w.name for w in workloads(Settings())} | {"topology"}
    for service in ours.values():
        assert service["build"] == {"context": "..", "dockerfile": "Dockerfile"}
        assert (ROOT / "deploy" / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == ROOT / "Dockerfile"


def test_addresses_name_services_that_listen_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    kafka_listeners = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    for name, service in courrier_services(compose).items():
        env = service["environment"]
        assert f"//{env['KAFKA_BOOTSTRAP_SERVERS']}" in kafka_listeners
        for key, part in (("SCHEMA_REGISTRY_URL", "registry"), ("S3_ENDPOINT_URL", "s3")):
            assert urlsplit(env[key]).hostname == part in services
        assert env["COURRIER_SMPP_HOST"] in services
        assert env["COURRIER_METRICS_PORT"] == str(METRICS_PORT)
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)


def test_http_services_publish_their_own_port_on_loopback_and_check_its_health(compose: dict[str, Any]) -> None:
    for workload in (w for w in workloads(Settings()) if w.http_port):
        service = compose["services"][workload.name]
        assert service["ports"] == [f"127.0.0.1:{workload.http_port}:{workload.http_port}"]
        assert service["environment"]["COURRIER_HEALTH_URL"] == f"http://127.0.0.1:{workload.http_port}/healthz"
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:")


def test_secrets_are_files_from_declared_secrets_never_values(compose: dict[str, Any]) -> None:
    declared = compose["secrets"]
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            upper = key.upper()
            if any(word in upper for word in ("SECRET", "PASSWORD", "TOKEN")) and upper.startswith("COURRIER_"):
                assert key.endswith("_FILE"), (name, key)
                secret = value.removeprefix("/run/secrets/")
                assert secret in declared and secret in service["secrets"], (name, key)
    assert all(set(spec) == {"environment"} for spec in declared.values())


def test_parts_are_the_local_ones(compose: dict[str, Any]) -> None:
    assert PARTS <= set(compose["services"])
    assert compose["services"]["smsc"]["volumes"][0].startswith("../infra/smsc:")
    assert (ROOT / "infra" / "smsc" / "CourrierSmsc.java").exists()
