"""Testcontainers for machines with a Docker engine and no Java or Maven: the same parts as images."""
from __future__ import annotations

from typing import Callable

from courrier.config import Settings


def docker_available() -> bool:
    """Whether a Docker engine answers (the client alone is not enough)."""
    try:
        import docker

        return bool(docker.from_env().ping())
    except Exception:  # no socket, no permission, no package: all mean "no engine"
        return False


def start_with_testcontainers(settings: Settings) -> tuple[dict[str, str], Callable[[], None]]:
    """Start Kafka, the registry and SeaweedFS as containers; returns the env vars that point Courrier at them and a stop function."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.kafka import KafkaContainer

    kafka = KafkaContainer("apache/kafka:4.1.1").with_kraft()
    registry = DockerContainer("apicurio/apicurio-registry:3.3.3").with_exposed_ports(8080)
    s3 = DockerContainer("chrislusf/seaweedfs:latest").with_command("mini -dir=/data -webdav=false -admin.ui=false").with_exposed_ports(8333)
    started = []
    for container in (kafka, registry, s3):
        container.start()
        started.append(container)
    wait_for_logs(registry, "started in", timeout=120)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.get_bootstrap_server(),
        "SCHEMA_REGISTRY_URL": f"http://{registry.get_container_host_ip()}:{registry.get_exposed_port(8080)}/apis/ccompat/v7",
        "S3_ENDPOINT_URL": f"http://{s3.get_container_host_ip()}:{s3.get_exposed_port(8333)}",
    }

    def stop() -> None:
        for container in reversed(started):
            container.stop()

    return env, stop
