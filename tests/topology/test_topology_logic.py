"""The pure parts of apply and check: declared configs, drift, and how a subject's versions are judged."""
from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import RegisteredSchema, Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from common.config import Settings
from topology.apply import COMPACTED_SEGMENT_MS, config_drift, topic_configs
from topology.check import UNLOCATED, Incompatibility, declared_subjects, subject_problems
from topology.topics import TOPICS, topic

V1 = {"type": "record", "name": "Thing", "fields": [{"name": "a", "type": "int"}]}
V2 = {"type": "record", "name": "Thing", "fields": [{"name": "a", "type": "long"}]}


class Registry:
    """An in-memory subject with versions and a verdict of its own, as a registry with extra rules would give."""

    def __init__(self, versions: list[dict], compatible: bool = True, error: SchemaRegistryError | None = None) -> None:
        self.versions = versions
        self.compatible = compatible
        self.error = error
        self.asked: list[int] = []

    def get_versions(self, subject_name: str) -> list[int]:
        if self.error:
            raise self.error
        return list(range(len(self.versions), 0, -1))

    def get_version(self, subject_name: str, version: int) -> RegisteredSchema:
        schema = Schema(json.dumps(self.versions[version - 1]), "AVRO")
        return RegisteredSchema(subject=subject_name, version=version, schema_id=version, guid=None, schema=schema)

    def test_compatibility(self, subject_name: str, schema: Schema, version: int = 0) -> bool:
        self.asked.append(version)
        return self.compatible


def test_compacted_topics_are_compacted_eagerly_and_kept_forever() -> None:
    assert topic_configs(topic("consent")) == {"cleanup.policy": "compact", "retention.ms": "-1",
                                              "min.cleanable.dirty.ratio": "0.1", "segment.ms": str(COMPACTED_SEGMENT_MS)}
    assert topic_configs(topic("receipt")) == {"cleanup.policy": "delete", "retention.ms": str(30 * 24 * 3600 * 1000)}


def test_drift_is_only_what_differs_from_the_declaration() -> None:
    desired = {"cleanup.policy": "compact", "retention.ms": "-1"}
    assert config_drift({"cleanup.policy": "compact", "retention.ms": "-1", "segment.bytes": "1"}, desired) == {}
    assert config_drift({"cleanup.policy": "delete", "retention.ms": "-1"}, desired) == {"cleanup.policy": "compact"}
    assert config_drift({}, desired) == desired


def test_every_topic_with_a_value_schema_is_a_subject() -> None:
    subjects = declared_subjects(Settings(topic_prefix="p-"))
    assert subjects == {f"p-{t.name}-value": t.value_schema for t in TOPICS if t.value_schema}


def test_each_version_is_compared_and_named() -> None:
    registry = Registry([V1, V2])
    local = {"type": "record", "name": "Thing", "fields": [{"name": "a", "type": "int"}]}
    assert subject_problems(registry, "s", json.dumps(local)) == [Incompatibility("s", 2, "Thing.a: type changed from long to int")]
    assert registry.asked == [1]  # the registry is asked only where the comparison found nothing


def test_an_incompatibility_only_the_registry_sees_is_still_reported() -> None:
    registry = Registry([V1, V2], compatible=False)
    assert subject_problems(registry, "s", json.dumps(V2)) == [Incompatibility("s", 1, UNLOCATED), Incompatibility("s", 2, UNLOCATED)]


def test_a_subject_never_registered_has_no_problems() -> None:
    missing = SchemaRegistryError(404, 40401, "Subject 's' not found.")
    assert subject_problems(Registry([], error=missing), "s", json.dumps(V1)) == []


def test_a_404_that_is_not_a_missing_subject_is_not_taken_for_one() -> None:
    wrong_url = SchemaRegistryError(404, None, "Not Found")
    with pytest.raises(SchemaRegistryError):
        subject_problems(Registry([], error=wrong_url), "s", json.dumps(V1))


def test_deadlines_wait_apart_from_deferred_sends_and_every_delay_topic_is_read_by_the_scheduler() -> None:
    from processors.scheduler.scheduler import INPUTS
    from topology.topics import BY_NAME, delay_topic

    assert (delay_topic("rcs-deadline"), delay_topic("consent-checked"), delay_topic("send-requested")) == ("timers", "scheduled", "scheduled")
    otp = {"context": {"lane": "TRANSACTIONAL"}}
    assert (delay_topic("rendered-transactional"), delay_topic("send-requested", otp)) == ("scheduled-transactional",) * 2
    assert delay_topic("send-requested", {"context": {"lane": "MARKETING"}}) == "scheduled"
    assert {"retry", "scheduled", "scheduled-transactional", "timers"} == set(INPUTS)
    assert all(BY_NAME[name].value_schema is None for name in INPUTS)


def test_remove_never_touches_the_unprefixed_pipeline() -> None:
    from common.config import Settings
    from topology.apply import remove
    from topology.errors import TopologyError

    with pytest.raises(TopologyError, match="needs a topic prefix"):
        remove(Settings(kafka_bootstrap_servers="127.0.0.1:1", topic_prefix=""))
