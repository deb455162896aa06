"""Every generated manifest validates: Kubernetes kinds against the Kubernetes JSON schemas (kubernetes-validate),
ScaledObjects and KafkaTopics against the KEDA and Strimzi CRD schemas kept in deploy/crds/."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from common.config import Settings
from processors.config_example import example
from infra.k8s.render import manifests
from infra.k8s.target import Target
from infra.k8s.workloads import DISPATCH_GRACE_S, workloads

CRDS = Path(__file__).resolve().parents[3] / "deploy" / "crds"
K8S_VERSION = "1.30"


def _crd_schema(file: str) -> tuple[str, dict[str, Any]]:
    doc = yaml.safe_load((CRDS / file).read_text())
    return f"{doc['group']}/{doc['version']}:{doc['kind']}", doc["openAPIV3Schema"]


CRD_SCHEMAS = dict(_crd_schema(f) for f in ("keda-scaledobject.schema.yaml", "strimzi-kafkatopic.schema.yaml"))


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    files = manifests(Settings(topic_prefix="prod-"), Target(config_text=example()))
    return [doc for docs in files.values() for doc in docs]


def _validate(doc: dict[str, Any]) -> None:
    crd = CRD_SCHEMAS.get(f"{doc['apiVersion']}:{doc['kind']}")
    if crd is not None:
        jsonschema.validate(doc, crd)
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_every_manifest_validates_against_its_schema(documents: list[dict[str, Any]]) -> None:
    kinds = {doc["kind"] for doc in documents}
    assert kinds == {"ConfigMap", "KafkaTopic", "Job", "Deployment", "Service", "ScaledObject"}
    for doc in documents:
        _validate(doc)


def test_the_schemas_refuse_a_broken_manifest(documents: list[dict[str, Any]]) -> None:
    """The checks bite: a wrong type in each kind is refused."""
    scaled = next(d for d in documents if d["kind"] == "ScaledObject")
    with pytest.raises(jsonschema.ValidationError):
        _validate({**scaled, "spec": {**scaled["spec"], "triggers": [{"type": "kafka", "metadata": {"lagThreshold": 5}}]}})
    topic = next(d for d in documents if d["kind"] == "KafkaTopic")
    with pytest.raises(jsonschema.ValidationError):
        _validate({**topic, "spec": {**topic["spec"], "partitions": 0}})
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate({**deployment, "spec": {**deployment["spec"], "replicas": "one"}})


def test_one_deployment_per_stage_lane_and_http_service(documents: list[dict[str, Any]]) -> None:
    names = {d["metadata"]["name"] for d in documents if d["kind"] == "Deployment"}
    assert names == {f"courrier-{w.name}" for w in workloads(Settings())}
    assert {"courrier-dispatch-transactional", "courrier-dispatch-marketing", "courrier-consent-transactional", "courrier-api"} <= names
    # KEDA owns the count of those it scales: a re-applied manifest must not reset it.
    scaled = {d["spec"]["scaleTargetRef"]["name"] for d in documents if d["kind"] == "ScaledObject"}
    for doc in (d for d in documents if d["kind"] == "Deployment"):
        assert ("replicas" in doc["spec"]) == (doc["metadata"]["name"] not in scaled)
    services = {d["metadata"]["name"] for d in documents if d["kind"] == "Service"}
    assert services == {"courrier-api", "courrier-webhooks", "courrier-links"}


def test_the_topology_job_registers_the_schemas(documents: list[dict[str, Any]]) -> None:
    job = next(d for d in documents if d["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["topology", "apply"]


def test_pods_run_as_non_root_with_probes_config_and_secret_references(documents: list[dict[str, Any]]) -> None:
    for doc in (d for d in documents if d["kind"] in ("Deployment", "Job")):
        pod = doc["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
        if doc["kind"] == "Job":
            continue
        assert container["readinessProbe"] and container["livenessProbe"]
        probe = str(container["livenessProbe"])
        assert "/healthz" in probe or container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert pod["terminationGracePeriodSeconds"] >= 60
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["config"]["configMap"]["name"] == "courrier-config"
        assert volumes["secret-files"]["secret"]["optional"] is True
        # Secrets are referenced by name, never written: no env entry carries a value that looks like one.
        assert all("SECRET" not in e["name"] and "PASSWORD" not in e["name"] and "TOKEN" not in e["name"] for e in container["env"])
    assert not any(d["kind"] == "Secret" for d in documents)


def test_config_map_holds_the_configuration_file(documents: list[dict[str, Any]]) -> None:
    config = next(d for d in documents if d["metadata"]["name"] == "courrier-config")
    assert config["data"]["courrier.toml"] == example()
    env = next(d for d in documents if d["metadata"]["name"] == "courrier-env")["data"]
    assert env["COURRIER_CONFIG"] == "/etc/courrier/courrier.toml" and env["COURRIER_TOPIC_PREFIX"] == "prod-"
    replicas = {d["spec"]["replicas"] for d in documents if d["kind"] == "KafkaTopic"}
    assert replicas == {int(env["COURRIER_REPLICATION_FACTOR"])}  # topics the Job creates match the KafkaTopics


def test_dispatch_grace_outlasts_its_longest_batch() -> None:
    """A batch may hold a message for its sender's budget, then wait for the provider's answer."""
    import inspect

    from processors.dispatch.stage import DispatchStage

    submit_timeout_s = inspect.signature(DispatchStage.__init__).parameters["submit_timeout_s"].default
    hold_max_s = Settings.model_fields["dispatch_hold_s"].metadata
    longest_hold = next(m.le for m in hold_max_s if getattr(m, "le", None) is not None)
    assert DISPATCH_GRACE_S > longest_hold + submit_timeout_s
