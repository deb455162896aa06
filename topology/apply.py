"""``courrier topology apply``: create every declared topic and register every value schema, idempotently.

A topic that exists is brought to its declaration (more partitions when it has too few, configs that differ
set again) and each change is reported; a subject is set to BACKWARD_TRANSITIVE before its schema is
registered, and registering the same schema again returns the same id.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from common.config import Settings
from common.kafka_clients import require_broker
import schemas
from topology.check import declared_subjects, subject_problems
from topology.errors import TopologyError
from topology.registry import registry_client, registry_errors
from topology.topics import TOPICS, Topic

COMPATIBILITY = "BACKWARD_TRANSITIVE"
COMPACTED_SEGMENT_MS = 6 * 60 * 60 * 1000  # the active segment is never compacted: roll it so old keys go within hours
TIMEOUT_S = 30.0


@dataclass
class ApplyReport:
    """What apply found and did: each topic ``created`` or ``exists``, the changes made to existing ones, each subject's id."""

    topics: dict[str, str] = field(default_factory=dict)
    changes: dict[str, list[str]] = field(default_factory=dict)
    schema_ids: dict[str, int] = field(default_factory=dict)


def topic_configs(declared: Topic) -> dict[str, str]:
    """Broker configs a declared topic must have."""
    configs = {"cleanup.policy": declared.cleanup_policy, "retention.ms": str(declared.retention_ms)}
    if declared.compacted:
        configs["min.cleanable.dirty.ratio"] = "0.1"  # compact state topics eagerly: they are read whole at start-up
        configs["segment.ms"] = str(COMPACTED_SEGMENT_MS)
    return configs


def config_drift(current: Mapping[str, str | None], desired: Mapping[str, str]) -> dict[str, str]:
    """The desired configs whose current value differs."""
    return {key: value for key, value in desired.items() if current.get(key) != value}


def apply(settings: Settings, progress: Callable[[str], None] | None = None) -> ApplyReport:
    """Create missing topics, bring existing ones to their declaration, then register every value schema under BACKWARD_TRANSITIVE."""
    say = progress or (lambda _line: None)
    require_broker(settings)
    report = ApplyReport()
    _apply_topics(settings, AdminClient({"bootstrap.servers": settings.bootstrap_servers}), report, say)
    _register_schemas(settings, registry_client(settings), report, say)
    return report


def _apply_topics(settings: Settings, admin: AdminClient, report: ApplyReport, say: Callable[[str], None]) -> None:
    declared_by_physical = {settings.topic(t.name): t for t in TOPICS}
    with _broker_errors(settings, "list topics"):
        existing = admin.list_topics(timeout=TIMEOUT_S).topics
    missing = [physical for physical in declared_by_physical if physical not in existing]
    raced = _create(settings, admin, {p: declared_by_physical[p] for p in missing})
    for physical in missing:
        if physical not in raced:
            report.topics[physical] = "created"
            say(f"topic {physical}: created")
    if raced:  # created by someone else meanwhile: reconcile them as existing topics
        with _broker_errors(settings, "list topics"):
            existing = admin.list_topics(timeout=TIMEOUT_S).topics
    present = {p: t for p, t in declared_by_physical.items() if p not in missing or p in raced}
    counts = {p: (len(existing[p].partitions), t.partitions or settings.partitions) for p, t in present.items()}
    grown = _grow_partitions(settings, admin, counts)
    altered = _alter_configs(settings, admin, {p: topic_configs(t) for p, t in present.items()})
    for physical in present:
        changes = grown.get(physical, []) + altered.get(physical, [])
        report.topics[physical] = "exists"
        if changes:
            report.changes[physical] = changes
        say(f"topic {physical}: exists" + "".join(f"; {change}" for change in changes))


def _create(settings: Settings, admin: AdminClient, topics: dict[str, Topic]) -> set[str]:
    """Create ``topics``; return those another client created first."""
    if not topics:
        return set()
    new = [NewTopic(physical, declared.partitions or settings.partitions, settings.replication_factor, config=topic_configs(declared))
           for physical, declared in topics.items()]
    raced: set[str] = set()
    for physical, future in admin.create_topics(new, request_timeout=TIMEOUT_S).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise TopologyError(f"Kafka broker {settings.bootstrap_servers} refused to create {physical}: "
                                    f"{exc.args[0].str()}") from exc
            raced.add(physical)
    return raced


def _grow_partitions(settings: Settings, admin: AdminClient, counts: dict[str, tuple[int, int]]) -> dict[str, list[str]]:
    """Add partitions where a topic has fewer than declared (Kafka cannot remove any); describe each change."""
    short = {physical: (have, want) for physical, (have, want) in counts.items() if have < want}
    if not short:
        return {}
    futures = admin.create_partitions([NewPartitions(p, want) for p, (_have, want) in short.items()], request_timeout=TIMEOUT_S)
    for physical, future in futures.items():
        with _broker_errors(settings, f"add partitions to {physical}"):
            future.result()
    return {physical: [f"partitions {have} → {want} (keys now map to other partitions)"] for physical, (have, want) in short.items()}


def _alter_configs(settings: Settings, admin: AdminClient, desired: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """Set the configs that differ from the declaration; describe each change."""
    if not desired:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, physical) for physical in desired]
    drift: dict[str, dict[str, str]] = {}
    current: dict[str, dict[str, str | None]] = {}
    for resource, future in admin.describe_configs(resources, request_timeout=TIMEOUT_S).items():
        with _broker_errors(settings, f"describe {resource.name}"):
            current[resource.name] = {key: entry.value for key, entry in future.result().items()}
        drift[resource.name] = config_drift(current[resource.name], desired[resource.name])
    changes = [ConfigResource(ConfigResource.Type.TOPIC, physical, incremental_configs=[
        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET) for key, value in configs.items()])
        for physical, configs in drift.items() if configs]
    if not changes:
        return {}
    for resource, future in admin.incremental_alter_configs(changes, request_timeout=TIMEOUT_S).items():
        with _broker_errors(settings, f"alter the configs of {resource.name}"):
            future.result()
    return {physical: [f"{key} {current[physical].get(key)} → {value}" for key, value in configs.items()]
            for physical, configs in drift.items() if configs}


def _register_schemas(settings: Settings, registry: SchemaRegistryClient, report: ApplyReport, say: Callable[[str], None]) -> None:
    for name, schema_name in declared_subjects(settings).items():
        text = schemas.schema_json(schema_name)
        with registry_errors(settings, f"register {schema_name} under {name}"):
            registry.set_compatibility(name, COMPATIBILITY)
            try:
                report.schema_ids[name] = registry.register_schema(name, Schema(text, "AVRO"))
            except SchemaRegistryError as exc:
                if exc.http_status_code != 409:
                    raise
                reasons = "; ".join(p.problem for p in subject_problems(registry, name, text)) or "incompatible"
                raise TopologyError(f"schema registry {settings.registry_url} refused {schema_name} under {name}: "
                                    f"{reasons} (run `courrier topology check`)") from exc
        say(f"subject {name}: schema id {report.schema_ids[name]}")


@contextmanager
def _broker_errors(settings: Settings, action: str) -> Iterator[None]:
    """Turn a broker's refusal into one line naming the broker and the action."""
    try:
        yield
    except KafkaException as exc:
        error = exc.args[0]
        detail = error.str() if hasattr(error, "str") else str(error)
        raise TopologyError(f"Kafka broker {settings.bootstrap_servers} refused to {action}: {detail}") from exc


def remove(settings: Settings) -> list[str]:
    """Delete every topic under ``settings.topic_prefix`` (a run of its own, done), never a topic of another prefix;
    returns the names deleted. A prefix is required: this never empties the main pipeline's topics."""
    if not settings.topic_prefix:
        raise TopologyError("remove needs a topic prefix; it never deletes the unprefixed pipeline's topics")
    import logging

    # Through Python logging, so librdkafka's informational lines at shutdown stay out of a command's output.
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers, "logger": logging.getLogger("librdkafka")})
    names = sorted(name for name in admin.list_topics(timeout=10).topics if name.startswith(settings.topic_prefix))
    for future in (admin.delete_topics(names, operation_timeout=60).values() if names else ()):
        future.exception()
    return names

