"""apply and check against the running broker and registry, each test under a topic prefix of its own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.schema_registry import SchemaRegistryClient

from common.config import Settings
import schemas
from topology.apply import apply
from topology.check import Incompatibility, check
from topology.errors import TopologyError
from topology.topics import TOPICS, subject

VALUE_TOPICS = [t for t in TOPICS if t.value_schema]


def fresh(real_parts: Settings, partitions: int = 2) -> Settings:
    return real_parts.model_copy(update={"topic_prefix": f"t-topo-{uuid.uuid4().hex[:10]}-", "partitions": partitions})


def broker_configs(settings: Settings, logical: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    [future] = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, settings.topic(logical))]).values()
    return {key: entry.value for key, entry in future.result().items()}


def await_config(settings: Settings, logical: str, key: str, value: str) -> None:
    """Wait (boundedly) until the broker describes the config: changes apply asynchronously."""
    for _ in range(100):
        if broker_configs(settings, logical)[key] == value:
            return
        time.sleep(0.1)
    raise AssertionError(f"{logical} {key} never became {value}")


def partition_counts(settings: Settings) -> dict[str, int]:
    metadata = AdminClient({"bootstrap.servers": settings.bootstrap_servers}).list_topics(timeout=10).topics
    return {t.name: len(metadata[settings.topic(t.name)].partitions) for t in TOPICS}


def register_forcibly(settings: Settings, name: str, schema: dict) -> None:
    """Register a version whatever its compatibility, as a careless producer elsewhere could have."""
    httpx.put(f"{settings.registry_url}/config/{name}", json={"compatibility": "NONE"}, timeout=10).raise_for_status()
    httpx.post(f"{settings.registry_url}/subjects/{name}/versions", json={"schema": json.dumps(schema)}, timeout=10).raise_for_status()


def with_context_as_text(schema_name: str) -> dict:
    """The schema with its ``context`` record replaced by a string: what the current schema cannot read. The record's
    definition moves to its next use by name (a nested record may refer to it), so the schema stays valid."""
    schema = json.loads(schemas.schema_json(schema_name))
    [definition] = [f["type"] for f in schema["fields"] if f["name"] == "context"]
    schema["fields"] = [{"name": "context", "type": "string"} if f["name"] == "context" else f for f in schema["fields"]]
    pending = [definition]

    def define_at_first_use(node):
        if pending and node == "courrier.MessageContext":
            return pending.pop()
        if isinstance(node, dict):
            return {key: define_at_first_use(value) for key, value in node.items()}
        if isinstance(node, list):
            return [define_at_first_use(item) for item in node]
        return node

    return define_at_first_use(schema)


def test_apply_creates_every_topic_and_is_idempotent(real_parts: Settings) -> None:
    settings = fresh(real_parts)
    first = apply(settings)
    lines: list[str] = []
    second = apply(settings, progress=lines.append)

    assert first.topics == {settings.topic(t.name): "created" for t in TOPICS}
    assert second.topics == {settings.topic(t.name): "exists" for t in TOPICS} and second.changes == {}
    assert first.schema_ids == second.schema_ids
    assert set(first.schema_ids) == {subject(settings.topic(t.name)) for t in VALUE_TOPICS}
    assert f"topic {settings.topic('consent')}: exists" in lines
    assert partition_counts(settings) == {t.name: t.partitions or 2 for t in TOPICS}
    for t in TOPICS:
        configs = broker_configs(settings, t.name)
        assert (configs["cleanup.policy"], configs["retention.ms"]) == (t.cleanup_policy, str(t.retention_ms))
    registry = SchemaRegistryClient({"url": settings.registry_url})
    assert {registry.get_compatibility(subject(settings.topic(t.name))) for t in VALUE_TOPICS} == {"BACKWARD_TRANSITIVE"}


def test_apply_adds_missing_partitions_and_restores_drifted_configs(real_parts: Settings) -> None:
    settings = fresh(real_parts, partitions=2)
    apply(settings)
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    drift = ConfigResource(ConfigResource.Type.TOPIC, settings.topic("consent"), incremental_configs=[
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SET)])
    [future] = admin.incremental_alter_configs([drift]).values()
    future.result()
    await_config(settings, "consent", "cleanup.policy", "delete")

    report = apply(settings.model_copy(update={"partitions": 3}))

    assert report.changes[settings.topic("consent")] == ["partitions 2 → 3 (keys now map to other partitions)",
                                                         "cleanup.policy delete → compact"]
    assert report.changes[settings.topic("receipt")] == ["partitions 2 → 3 (keys now map to other partitions)"]
    await_config(settings, "consent", "cleanup.policy", "compact")
    assert set(partition_counts(settings).values()) == {3}


def test_check_names_the_field_of_an_incompatible_local_change(real_parts: Settings) -> None:
    settings = fresh(real_parts)
    assert check(settings) == []  # nothing registered yet: nothing to break
    apply(settings)
    assert check(settings) == []
    changed = json.loads(schemas.schema_json("Receipt"))
    changed["fields"].append({"name": "tenant", "type": "string", "doc": "no default: old receipts cannot be read"})

    problems = check(settings, {"Receipt": json.dumps(changed)})

    assert problems == [Incompatibility(subject(settings.topic("receipt")), 1, "Receipt.tenant: added without a default")]


def test_check_compares_with_every_registered_version_not_only_the_latest(real_parts: Settings) -> None:
    settings = fresh(real_parts)
    name = subject(settings.topic("dispatched"))
    register_forcibly(settings, name, with_context_as_text("Dispatched"))
    register_forcibly(settings, name, json.loads(schemas.schema_json("Dispatched")))

    assert check(settings) == [Incompatibility(name, 1, "Dispatched.context: type changed from string to MessageContext")]


def test_apply_refuses_a_schema_the_registered_history_forbids_naming_the_field(real_parts: Settings) -> None:
    settings = fresh(real_parts)
    register_forcibly(settings, subject(settings.topic("dispatched")), with_context_as_text("Dispatched"))

    with pytest.raises(TopologyError, match=r"refused Dispatched under .*: Dispatched\.context: type changed from string to MessageContext"):
        apply(settings)


def courrier(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COURRIER_TOPIC_PREFIX": settings.topic_prefix, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "SCHEMA_REGISTRY_URL": settings.registry_url, "COURRIER_PARTITIONS": str(settings.partitions)}
    return subprocess.run([sys.executable, "-m", "courrier.entry", *args], capture_output=True, text=True, env=env, timeout=300)


def test_the_cli_applies_then_checks(real_parts: Settings) -> None:
    settings = fresh(real_parts)
    applied = courrier(settings, "topology", "apply")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines()[-1] == f"{len(TOPICS)} topics ({len(TOPICS)} created, 0 changed), {len(VALUE_TOPICS)} schemas registered"

    checked = courrier(settings, "topology", "check")
    assert (checked.returncode, checked.stdout) == (0, f"{len(VALUE_TOPICS)} subjects compatible\n")

    name = subject(settings.topic("dispatched"))
    register_forcibly(settings, name, with_context_as_text("Dispatched"))
    failed = courrier(settings, "topology", "check")
    assert failed.returncode == 1
    assert failed.stdout.splitlines() == [f"{name}: Dispatched.context: type changed from string to MessageContext (against version 2)"]


def test_remove_deletes_its_prefix_and_nothing_else(real_parts: Settings) -> None:
    from topology.apply import remove

    mine, other = fresh(real_parts), fresh(real_parts)
    apply(mine)
    apply(other)
    removed = remove(mine)
    assert sorted(removed) == sorted(mine.topic(t.name) for t in TOPICS)
    listed = lambda: set(AdminClient({"bootstrap.servers": mine.bootstrap_servers}).list_topics(timeout=10).topics)  # noqa: E731
    deadline = time.monotonic() + 30
    while set(removed) & listed() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = listed()
    assert not set(removed) & left and {other.topic(t.name) for t in TOPICS} <= left
    remove(other)
