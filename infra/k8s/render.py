"""Every manifest of a deployment, grouped in files: ``manifests(settings, target)`` → {file name: documents}."""
from __future__ import annotations

from pathlib import Path

from common.config import Settings
from infra.k8s.manifests import Manifest, config_maps, deployment, service, topology_job
from infra.k8s.scaling import scaled_object
from infra.k8s.target import Target
from infra.k8s.topics import kafka_topics
from infra.k8s.workloads import workloads
from infra.k8s.yaml_out import dump_all


def manifests(settings: Settings, target: Target) -> dict[str, list[Manifest]]:
    """``00-config.yaml`` (ConfigMaps), ``10-topics.yaml`` (KafkaTopics), ``11-topology.yaml`` (the Job registering
    the schemas), then one file per workload: its
    Deployment, its Service when it serves HTTP, its ScaledObject when it scales on lag (kubectl applies in order)."""
    files = {"00-config.yaml": config_maps(settings, target), "10-topics.yaml": kafka_topics(settings, target),
             "11-topology.yaml": [topology_job(target)]}
    for index, workload in enumerate(workloads(settings)):
        documents = [deployment(workload, target)]
        if workload.http_port:
            documents.append(service(workload, target))
        if workload.scales_on_lag and workload.inputs:
            documents.append(scaled_object(workload, settings, target))
        files[f"{20 + index}-{workload.name}.yaml"] = documents
    return files


def write(files: dict[str, list[Manifest]], out: Path) -> list[Path]:
    """Write each file under ``out`` (created); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, documents in files.items():
        path = out / name
        path.write_text(dump_all(documents), encoding="utf-8")
        written.append(path)
    return written
