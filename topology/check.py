"""``courrier topology check``: is every local schema compatible (BACKWARD_TRANSITIVE) with every registered version?"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

import httpx
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

import schemas
from courrier.config import Settings
from processors.runtime.errors import UnreachableError
from topology.compat import backward_problems
from topology.topics import TOPICS, subject


@dataclass(frozen=True)
class Incompatibility:
    """One subject whose local schema cannot read what an earlier version wrote, and why (naming the field)."""

    subject: str
    version: int
    problem: str


def check(settings: Settings, local_schemas: Mapping[str, str] | None = None) -> tuple[list[Incompatibility], int]:
    """Problems of every declared subject against all its registered versions, and how many subjects were checked.

    ``local_schemas`` overrides schema texts by schema name (``SendRequested``…), to try a change before writing it.
    """
    overrides = local_schemas or {}
    registry = SchemaRegistryClient.new_client({"url": settings.registry_url, "timeout": 10})
    problems: list[Incompatibility] = []
    checked = 0
    for declared in TOPICS:
        if declared.value_schema is None:
            continue
        name = subject(settings.topic(declared.name))
        local_text = overrides.get(declared.value_schema) or schemas.schema_json(declared.value_schema)
        try:
            versions = registry.get_versions(name)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                continue  # never registered: nothing to be compatible with yet
            raise UnreachableError(f"schema registry {settings.registry_url} refused {name}: {exc}") from exc
        except (httpx.HTTPError, OSError) as exc:
            raise UnreachableError(f"schema registry {settings.registry_url} did not answer ({exc}); run `courrier infra up registry` "
                                   "or set SCHEMA_REGISTRY_URL") from exc
        checked += 1
        local = json.loads(local_text)
        for version in versions:
            registered = json.loads(registry.get_version(name, version).schema.schema_str)
            problems.extend(Incompatibility(name, version, p) for p in backward_problems(registered, local))
        if not any(p.subject == name for p in problems) and not registry.test_compatibility(name, Schema(local_text, "AVRO")):
            problems.append(Incompatibility(name, versions[-1], "the registry reports an incompatibility this check could not locate"))
    return problems, checked
