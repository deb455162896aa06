"""Deployments, Services and ConfigMaps for every workload (``workloads.py``) on a ``Target``.

Each pod runs the one image with ``courrier <args>``, as a non-root user on a read-only root filesystem, with the
configuration file from a ConfigMap, secrets from Secrets it references (``optional``: a deployment that needs none
makes none), a stable ``COURRIER_INSTANCE_ID`` (the pod's name: a restarted container fences its own open
transaction) and probes on the health endpoint.
"""
from __future__ import annotations

from typing import Any

from common.config import Settings
from infra.k8s.target import CONFIG_DIR, NAME, SECRET_FILES_DIR, STATE_DIR, Target
from infra.k8s.workloads import METRICS_PORT, Workload

Manifest = dict[str, Any]
USER_ID = 10001  # the image's user (Dockerfile)
HEALTH_COMMAND = "courrier-health"  # infra/k8s/health.py, installed on the image's PATH by the Dockerfile


def labels(component: str) -> dict[str, str]:
    """The labels of one workload's resources (and its pods' selector)."""
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": component, "app.kubernetes.io/part-of": NAME}


def meta(name: str, target: Target, component: str) -> dict[str, Any]:
    """``metadata`` of a namespaced resource."""
    return {"name": name, "namespace": target.namespace, "labels": labels(component)}


def config_maps(settings: Settings, target: Target) -> list[Manifest]:
    """The configuration file, and the environment every pod shares (where the peers are, the metrics port)."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": target.bootstrap_servers,
        "SCHEMA_REGISTRY_URL": target.registry_url,
        "S3_ENDPOINT_URL": target.s3_endpoint_url,
        "COURRIER_CONFIG": f"{CONFIG_DIR}/courrier.toml",
        "COURRIER_STATE_DIR": STATE_DIR,
        "COURRIER_METRICS_PORT": str(METRICS_PORT),
        # A stage's /metrics on the pod's address, for a Prometheus in another pod (the pod network is the boundary).
        "COURRIER_METRICS_HOST": "0.0.0.0",
        "COURRIER_TOPIC_PREFIX": settings.topic_prefix,
        "COURRIER_PARTITIONS": str(settings.partitions),
        # The topology Job may create a topic before Strimzi does: with the KafkaTopics' replicas, so both agree.
        "COURRIER_REPLICATION_FACTOR": str(target.topic_replicas),
    }
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(f"{NAME}-config", target, "config"),
         "data": {"courrier.toml": target.config_text}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(f"{NAME}-env", target, "config"), "data": env},
    ]


def deployment(workload: Workload, target: Target) -> Manifest:
    """One workload's Deployment. Those KEDA scales carry no ``replicas``: re-applying the manifest must not reset the
    count KEDA chose (one replica at creation)."""
    container = _container(workload.name, workload.args, target, workload.env)
    container["ports"] = [{"name": "http" if workload.http_port else "metrics", "containerPort": workload.health_port}]
    container["readinessProbe"] = {**_probe(workload), "periodSeconds": 10, "failureThreshold": 3}
    # A stage is stale after 30 s without a consume loop (StageMetrics.healthy): restart only well after that.
    container["livenessProbe"] = {**_probe(workload), "initialDelaySeconds": 30, "periodSeconds": 20, "failureThreshold": 4}
    spec: dict[str, Any] = {} if workload.scales_on_lag else {"replicas": 1}
    spec["selector"] = {"matchLabels": labels(workload.name)}
    spec["template"] = {"metadata": {"labels": labels(workload.name), "annotations": scrape_annotations(workload.health_port)},
                        "spec": _pod(container, target, grace_s=workload.grace_s)}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {**meta(f"{NAME}-{workload.name}", target, workload.name), "annotations": {"courrier/what": workload.what}},
            "spec": spec}


def scrape_annotations(port: int) -> dict[str, str]:
    """The annotations a Prometheus discovering pods (``kubernetes_sd_configs`` role pod, the usual relabelling) scrapes
    by: every stage and HTTP service serves ``/metrics`` on its one port."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}


def topology_job(target: Target) -> Manifest:
    """``courrier topology apply`` once: registers the schemas every stage needs (the KafkaTopics already made the
    topics, as apply would: it finds them as declared and changes nothing). Retried until the registry answers."""
    pod = _pod(_container("topology", ("topology", "apply"), target), target, grace_s=30)
    pod["restartPolicy"] = "OnFailure"
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(f"{NAME}-topology", target, "topology"),
            "spec": {"backoffLimit": 10, "template": {"metadata": {"labels": labels("topology")}, "spec": pod}}}


def _container(name: str, args: tuple[str, ...], target: Target, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The container every pod runs: the image, ``courrier <args>``, the shared environment, secrets by reference."""
    variables = [{"name": "COURRIER_INSTANCE_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    variables += [{"name": key, "value": value} for key, value in (env or {}).items()]
    return {
        "name": name,
        "image": target.image,
        "args": list(args),
        "envFrom": [{"configMapRef": {"name": f"{NAME}-env"}}, {"secretRef": {"name": target.env_secret, "optional": True}}],
        "env": variables,
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "secret-files", "mountPath": SECRET_FILES_DIR, "readOnly": True},
            {"name": "state", "mountPath": STATE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _pod(container: dict[str, Any], target: Target, grace_s: int) -> dict[str, Any]:
    """A pod spec around ``container``: non-root, the configuration file and secret files mounted, scratch space."""
    return {
        "terminationGracePeriodSeconds": grace_s,
        "securityContext": {"runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID, "fsGroup": USER_ID},
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": f"{NAME}-config"}},
            {"name": "secret-files", "secret": {"secretName": target.file_secret, "optional": True}},
            # Table state (RocksDB) is a cache of compacted topics, rebuilt from them: an emptyDir is enough.
            {"name": "state", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {}},
        ],
    }


def _probe(workload: Workload) -> dict[str, Any]:
    """HTTP services listen on every address: the kubelet asks them. A stage serves /healthz on COURRIER_METRICS_HOST
    (``MetricsServer``; 127.0.0.1 unless set), so its probe asks from inside the container (on 127.0.0.1: the pods set 0.0.0.0)."""
    if workload.http_port:
        return {"httpGet": {"path": "/healthz", "port": "http"}, "timeoutSeconds": 3}
    url = f"http://127.0.0.1:{workload.health_port}/healthz"
    return {"exec": {"command": [HEALTH_COMMAND, url]}, "timeoutSeconds": 5}


def service(workload: Workload, target: Target) -> Manifest:
    """A ClusterIP Service in front of an HTTP workload (an Ingress, owned by the cluster, exposes it)."""
    name = f"{NAME}-{workload.name}"
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, target, workload.name),
            "spec": {"selector": labels(workload.name),
                     "ports": [{"name": "http", "port": workload.http_port, "targetPort": "http"}]}}
