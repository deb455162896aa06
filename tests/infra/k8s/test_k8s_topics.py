"""KafkaTopics and ScaledObjects follow topology/topics.py: names, partitions, retention, cleanup policy."""
from __future__ import annotations

from common.config import Settings
from processors.config_example import example
from infra.k8s.scaling import scaled_object
from infra.k8s.target import Target
from infra.k8s.topics import kafka_topics, resource_name
from infra.k8s.workloads import workloads
from topology.topics import TOPICS, topic

SETTINGS = Settings(topic_prefix="prod-", partitions=12)
TARGET = Target(config_text=example(), kafka_cluster="main")


def test_one_kafka_topic_per_declared_topic_with_its_configs() -> None:
    found = {t["spec"]["topicName"]: t for t in kafka_topics(SETTINGS, TARGET)}
    assert set(found) == {f"prod-{t.name}" for t in TOPICS}
    for declared in TOPICS:
        resource = found[f"prod-{declared.name}"]
        assert resource["metadata"]["labels"]["strimzi.io/cluster"] == "main"
        assert resource["spec"]["partitions"] == (declared.partitions or 12)
        assert resource["spec"]["config"]["retention.ms"] == str(declared.retention_ms)
        assert resource["spec"]["config"]["cleanup.policy"] == declared.cleanup_policy
    assert found["prod-consent"]["spec"]["config"]["cleanup.policy"] == "compact"
    assert found["prod-message-state"]["spec"]["config"]["cleanup.policy"] == "compact,delete"


def test_resource_names_are_kubernetes_names() -> None:
    assert resource_name("Demo_ab12.Rendered") == "demo-ab12-rendered"


def test_each_stage_scales_on_the_lag_of_each_input() -> None:
    scaling = [w for w in workloads(SETTINGS) if w.scales_on_lag]
    assert {"scheduler", "api"}.isdisjoint(w.name for w in scaling)
    found = {s["metadata"]["name"]: s for s in (scaled_object(w, SETTINGS, TARGET) for w in scaling)}
    receipt = found["courrier-receipt"]["spec"]
    assert [t["metadata"]["topic"] for t in receipt["triggers"]] == [f"prod-{n}" for n in ("dispatched", "provider-events", "rcs-deadline")]
    assert {t["metadata"]["consumerGroup"] for t in receipt["triggers"]} == {"prod-courrier-receipt"}
    assert receipt["maxReplicaCount"] == 12 and receipt["minReplicaCount"] == 1
    lane = found["courrier-dispatch-transactional"]["spec"]["triggers"][0]["metadata"]
    assert lane["consumerGroup"] == "prod-courrier-dispatch-transactional" and lane["topic"] == "prod-rendered-transactional"
    assert lane["lagThreshold"] == str(TARGET.transactional_lag_threshold)
    assert found["courrier-dispatch-marketing"]["spec"]["triggers"][0]["metadata"]["consumerGroup"] == "prod-courrier-dispatch"
    assert topic("send-requested").name in found["courrier-consent-marketing"]["spec"]["triggers"][0]["metadata"]["topic"]
    consent_lane = found["courrier-consent-transactional"]["spec"]["triggers"][0]["metadata"]
    assert consent_lane["topic"] == "prod-send-requested-transactional"
    assert consent_lane["consumerGroup"] == "prod-courrier-consent-transactional"
