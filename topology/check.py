"""``courrier topology check``: can every local schema read what every registered version wrote (BACKWARD_TRANSITIVE)?"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from common.config import Settings
import schemas
from topology.compat import backward_problems
from topology.registry import is_subject_not_found, registry_client, registry_errors
from topology.topics import TOPICS, subject

UNLOCATED = "the registry reports an incompatibility that no field explains (see the registry's rules)"


@dataclass(frozen=True)
class Incompatibility:
    """One reason a subject's local schema cannot read what one registered version wrote, naming the field."""

    subject: str
    version: int
    problem: str


def check(settings: Settings, local_schemas: Mapping[str, str] | None = None) -> list[Incompatibility]:
    """Every problem of every declared subject against all its registered versions; empty when all are compatible.

    ``local_schemas`` replaces schema texts by schema name (``"Receipt"``), to try a change before writing it to ``schemas/``.
    A subject with no registered version has nothing to be incompatible with.
    """
    overrides = local_schemas or {}
    registry = registry_client(settings)
    problems: list[Incompatibility] = []
    for name, schema_name in declared_subjects(settings).items():
        local_text = overrides.get(schema_name) or schemas.schema_json(schema_name)
        with registry_errors(settings, f"check {name}"):
            problems.extend(subject_problems(registry, name, local_text))
    return problems


def declared_subjects(settings: Settings) -> dict[str, str]:
    """Registry subject → schema name, for every declared topic that has a value schema."""
    return {subject(settings.topic(t.name)): t.value_schema for t in TOPICS if t.value_schema is not None}


def subject_problems(registry: SchemaRegistryClient, subject_name: str, local_text: str) -> list[Incompatibility]:
    """Problems of ``local_text`` against each registered version of ``subject_name``.

    The field-by-field comparison names the problems; the registry is asked about each version the comparison finds
    no fault with, so an incompatibility only the registry sees is still reported.
    """
    local = json.loads(local_text)
    found: list[Incompatibility] = []
    for version in registered_versions(registry, subject_name):
        registered = json.loads(registry.get_version(subject_name, version).schema.schema_str)
        problems = backward_problems(registered, local)
        if not problems and not registry.test_compatibility(subject_name, Schema(local_text, "AVRO"), version=version):
            problems = [UNLOCATED]
        found.extend(Incompatibility(subject_name, version, problem) for problem in problems)
    return found


def registered_versions(registry: SchemaRegistryClient, subject_name: str) -> list[int]:
    """Version numbers registered under a subject, oldest first; empty when the subject does not exist yet."""
    try:
        return sorted(registry.get_versions(subject_name))
    except SchemaRegistryError as exc:
        if is_subject_not_found(exc):
            return []
        raise
