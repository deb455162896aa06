"""Strimzi ``KafkaTopic``s from ``topology.topics``: partitions, retention and cleanup policy exactly as
``courrier topology apply`` creates them (``topology.apply.topic_configs``), so topics stay declared once."""
from __future__ import annotations

import re

from common.config import Settings
from infra.k8s.manifests import Manifest, labels
from infra.k8s.scaling import partitions
from infra.k8s.target import Target
from topology.apply import topic_configs
from topology.topics import TOPICS


def resource_name(physical: str) -> str:
    """A Kubernetes name for a topic (lower case, dashes); ``spec.topicName`` keeps the topic's own name."""
    return re.sub(r"[^a-z0-9-]+", "-", physical.lower()).strip("-")[:253]


def kafka_topics(settings: Settings, target: Target) -> list[Manifest]:
    """One KafkaTopic per declared topic, for the Strimzi cluster ``target.kafka_cluster``."""
    found = []
    for declared in TOPICS:
        physical = settings.topic(declared.name)
        found.append({
            "apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
            "metadata": {"name": resource_name(physical), "namespace": target.namespace,
                         "labels": {**labels("topics"), "strimzi.io/cluster": target.kafka_cluster}},
            "spec": {"topicName": physical, "partitions": partitions(settings, declared.name), "replicas": target.topic_replicas,
                     "config": topic_configs(declared)},
        })
    return found
