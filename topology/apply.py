"""``courrier topology apply``: create every declared topic and register every value schema, idempotently."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import httpx
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

import schemas
from courrier.config import Settings
from processors.runtime.clients import require_broker
from processors.runtime.errors import UnreachableError
from topology.topics import TOPICS, Topic, subject

COMPATIBILITY = "BACKWARD_TRANSITIVE"


@dataclass
class ApplyReport:
    """What apply did per topic and subject."""

    topics: dict[str, str] = field(default_factory=dict)
    schema_ids: dict[str, int] = field(default_factory=dict)


def topic_configs(declared: Topic) -> dict[str, str]:
    """Broker configs a declared topic must have."""
    configs = {"cleanup.policy": declared.cleanup_policy, "retention.ms": str(declared.retention_ms)}
    if declared.compacted:
        configs["min.cleanable.dirty.ratio"] = "0.1"
    return configs


def apply(settings: Settings, progress: Callable[[str], None] | None = None) -> ApplyReport:
    """Create missing topics (growing partition counts that are too low) and register schemas under BACKWARD_TRANSITIVE."""
    say = progress or (lambda _line: None)
    require_broker(settings)
    report = ApplyReport()
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    existing = admin.list_topics(timeout=10).topics
    to_create = []
    for declared in TOPICS:
        physical = settings.topic(declared.name)
        partitions = declared.partitions or settings.partitions
        if physical not in existing:
            to_create.append(NewTopic(physical, partitions, settings.replication_factor, config=topic_configs(declared)))
            continue
        have = len(existing[physical].partitions)
        if have < partitions:
            admin.create_partitions([NewPartitions(physical, partitions)])[physical].result()
            report.topics[physical] = f"grown from {have} to {partitions} partitions"
        else:
            report.topics[physical] = "exists"
        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in topic_configs(declared).items()]
        for future in admin.incremental_alter_configs([ConfigResource(ConfigResource.Type.TOPIC, physical, incremental_configs=entries)]).values():
            future.result()
    for physical, future in admin.create_topics(to_create).items() if to_create else []:
        try:
            future.result()
            report.topics[physical] = "created"
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":  # another instance created it meanwhile
                raise
            report.topics[physical] = "exists"
        say(f"topic {physical}: {report.topics[physical]}")
    registry = SchemaRegistryClient.new_client({"url": settings.registry_url, "timeout": 10})
    for declared in TOPICS:
        if declared.value_schema is None:
            continue
        name = subject(settings.topic(declared.name))
        try:
            _set_compatibility(settings.registry_url, name)
            report.schema_ids[name] = registry.register_schema(name, Schema(schemas.schema_json(declared.value_schema), "AVRO"))
        except (httpx.HTTPError, OSError) as exc:
            raise UnreachableError(f"schema registry {settings.registry_url} did not answer ({exc}); run `courrier infra up registry` "
                                   "or set SCHEMA_REGISTRY_URL") from exc
        say(f"subject {name}: schema id {report.schema_ids[name]}")
    return report


def _set_compatibility(registry_url: str, subject_name: str) -> None:
    if registry_url.startswith("mock://"):
        return
    response = httpx.put(f"{registry_url.rstrip('/')}/config/{subject_name}", json={"compatibility": COMPATIBILITY}, timeout=10)
    response.raise_for_status()
