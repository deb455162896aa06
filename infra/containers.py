"""Testcontainers for machines with a Docker engine but no Java or Maven: Kafka, the registry and S3 as images.

testcontainers' ``KafkaContainer`` drives the start scripts of Confluent's image (it rejects ``apache/kafka`` tags in
KRaft mode), so Kafka here is the module's default ``confluentinc/cp-kafka`` in KRaft mode rather than ``apache/kafka``.
The SMSC simulator still runs locally on Java (``infra.ensure_running(settings, parts=("smsc",))``)."""
from __future__ import annotations

from typing import Callable

from common.config import Settings
from common.errors import UnreachableError
from infra.parts.s3 import S3
from infra.process import wait_until

REGISTRY_IMAGE = "apicurio/apicurio-registry:3.3.3"
SEAWEEDFS_IMAGE = "chrislusf/seaweedfs:latest"


def docker_available() -> bool:
    """Whether a Docker engine answers (the client package alone is not enough)."""
    try:
        import docker

        return bool(docker.from_env().ping())
    except Exception:  # no package, no socket, no permission: all mean "no engine"
        return False


def start_with_testcontainers(settings: Settings) -> tuple[dict[str, str], Callable[[], None]]:
    """Start Kafka, the registry and SeaweedFS as containers; returns the env vars that point Courrier at them and a stop function."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.kafka import KafkaContainer

    started: list[DockerContainer] = []

    def stop() -> None:
        for container in reversed(started):
            container.stop()

    try:
        kafka = KafkaContainer().with_kraft()
        registry = DockerContainer(REGISTRY_IMAGE).with_exposed_ports(8080)
        s3 = DockerContainer(SEAWEEDFS_IMAGE).with_command("server -dir=/data -s3 -s3.port=8333").with_exposed_ports(8333)
        for container in (kafka, registry, s3):
            container.start()
            started.append(container)
        wait_for_logs(registry, "started in", timeout=120)
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka.get_bootstrap_server(),
            "SCHEMA_REGISTRY_URL": f"http://{registry.get_container_host_ip()}:{registry.get_exposed_port(8080)}/apis/ccompat/v7",
            "S3_ENDPOINT_URL": f"http://{s3.get_container_host_ip()}:{s3.get_exposed_port(8333)}",
        }
        s3_settings = settings.model_copy(update={"s3_endpoint_url": env["S3_ENDPOINT_URL"]})
        if not wait_until(lambda: S3.ready(s3_settings), timeout_s=60):
            raise UnreachableError(f"s3 container on {env['S3_ENDPOINT_URL']} did not answer within 60s")
        S3.prepare(s3_settings)
    except BaseException:
        stop()
        raise
    return env, stop
