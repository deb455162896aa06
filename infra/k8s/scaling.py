"""KEDA ``ScaledObject``s: each stage that consumes scales on its consumer group's lag, one trigger per input topic.

A consumer group spreads a topic's partitions over its members, so replicas beyond the partition count sit idle:
``maxReplicaCount`` is the largest input's partition count, and KEDA's kafka scaler (``allowIdleConsumers`` false,
its default) caps its own target the same way. ``lagThreshold`` is the lag one replica is expected to carry.
"""
from __future__ import annotations

from common.config import Settings
from infra.k8s.manifests import Manifest, meta
from infra.k8s.target import NAME, Target
from infra.k8s.workloads import Workload
from topology.topics import topic


def partitions(settings: Settings, logical: str) -> int:
    """The partitions a topic is created with (``topology.apply``: its own count, else ``COURRIER_PARTITIONS``)."""
    return topic(logical).partitions or settings.partitions


def scaled_object(workload: Workload, settings: Settings, target: Target) -> Manifest:
    """The ScaledObject of one stage's Deployment."""
    threshold = target.transactional_lag_threshold if workload.name.endswith("-transactional") else target.lag_threshold
    triggers = [{"type": "kafka", "name": f"lag-{logical}", "metadata": {
        "bootstrapServers": target.bootstrap_servers,
        "consumerGroup": workload.group_id,
        "topic": settings.topic(logical),
        "lagThreshold": str(threshold),
        # A group with no committed offset yet has read nothing: everything on the topic is its lag.
        "offsetResetPolicy": "earliest",
    }} for logical in workload.inputs]
    name = f"{NAME}-{workload.name}"
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": meta(name, target, workload.name),
            "spec": {
                "scaleTargetRef": {"name": name},
                # Never zero: a transactional message must not wait for a pod to start, nor a table to load.
                "minReplicaCount": 1,
                "maxReplicaCount": max(partitions(settings, logical) for logical in workload.inputs),
                "pollingInterval": 15,
                # A stage loads its tables at start (seconds to minutes): scale down slowly, so it is not undone at once.
                "cooldownPeriod": 300,
                "triggers": triggers,
            }}
