"""apply and check against the real broker and registry."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import httpx
from confluent_kafka.admin import AdminClient, ConfigResource

import schemas
from courrier.config import Settings
from topology.apply import apply
from topology.check import check
from topology.topics import TOPICS, subject


def fresh(real_parts: Settings) -> Settings:
    return real_parts.model_copy(update={"topic_prefix": f"topo-{uuid.uuid4().hex[:8]}-", "partitions": 2})


def test_apply_creates_every_topic_and_is_idempotent(real_parts: Settings) -> None:
    settings = fresh(real_parts)
    first = apply(settings)
    second = apply(settings)
    assert set(first.topics.values()) == {"created"} and set(second.topics.values()) == {"exists"}
    assert first.schema_ids == second.schema_ids and len(first.schema_ids) == sum(1 for t in TOPICS if t.value_schema)
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    metadata = admin.list_topics(timeout=10).topics
    consent = settings.topic("consent")
    assert len(metadata[consent].partitions) == 2
    configs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, consent)])
    [future] = configs.values()
    assert future.result()["cleanup.policy"].value == "compact"
    level = httpx.get(f"{settings.registry_url}/config/{subject(settings.topic('receipt'))}", timeout=5).json()
    assert level.get("compatibilityLevel", level.get("compatibility")) == "BACKWARD_TRANSITIVE"


def test_check_names_the_field_of_an_incompatible_change(real_parts: Settings) -> None:
    settings = fresh(real_parts)
    apply(settings)
    assert check(settings) == ([], sum(1 for t in TOPICS if t.value_schema))
    changed = json.loads(schemas.schema_json("Receipt"))
    changed["fields"].append({"name": "tenant", "type": "string", "doc": "no default: old receipts cannot be read"})
    problems, _checked = check(settings, {"Receipt": json.dumps(changed)})
    assert [(p.subject, p.problem) for p in problems] == [(subject(settings.topic("receipt")), "Receipt.tenant: added without a default")]


def register_forcibly(settings: Settings, name: str, schema: dict) -> None:
    """Register a version regardless of compatibility, as a careless producer elsewhere could have."""
    httpx.put(f"{settings.registry_url}/config/{name}", json={"compatibility": "NONE"}, timeout=5).raise_for_status()
    httpx.post(f"{settings.registry_url}/subjects/{name}/versions", json={"schema": json.dumps(schema)}, timeout=5).raise_for_status()


def cli_check(settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COURRIER_TOPIC_PREFIX": settings.topic_prefix, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "SCHEMA_REGISTRY_URL": settings.registry_url}
    return subprocess.run([sys.executable, "-m", "courrier.cli", "topology", "check"], capture_output=True, text=True, env=env, timeout=120)


def test_the_cli_check_exits_non_zero_naming_the_field(real_parts: Settings) -> None:
    settings = fresh(real_parts)
    apply(settings)
    name = subject(settings.topic("dispatched"))
    with_extra_field = json.loads(schemas.schema_json("Dispatched"))
    with_extra_field["fields"].append({"name": "legacy_cost", "type": "long", "doc": "a field the current schema dropped"})
    register_forcibly(settings, name, with_extra_field)
    assert cli_check(settings).returncode == 0  # dropping a field is backward compatible: new readers ignore it

    context_as_text = json.loads(schemas.schema_json("Dispatched"))
    context_as_text["fields"] = [{"name": "context", "type": "string", "doc": "a type the current schema cannot read"},
                                 *(f for f in context_as_text["fields"] if f["name"] != "context")]
    register_forcibly(settings, name, context_as_text)
    result = cli_check(settings)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"{name} (against version 3): Dispatched.context: type changed from string to courrier.MessageContext"]
