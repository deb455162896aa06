"""Where the manifests go: the cluster's names for Courrier's peers and how much to scale, with defaults that fit a
Strimzi cluster named ``courrier`` in the same namespace. ``courrier deploy render --help`` sets each."""
from __future__ import annotations

from dataclasses import dataclass

NAME = "courrier"
CONFIG_DIR = "/etc/courrier"
SECRET_FILES_DIR = "/run/secrets/courrier"
STATE_DIR = "/var/lib/courrier"


@dataclass(frozen=True)
class Target:
    """The cluster-side choices the code cannot know."""

    config_text: str
    namespace: str = NAME
    image: str = "courrier:0.1.0"
    kafka_cluster: str = NAME  # the Strimzi ``Kafka`` resource: its KafkaTopics carry strimzi.io/cluster
    bootstrap_servers: str = f"{NAME}-kafka-bootstrap:9092"  # Strimzi's bootstrap Service for that cluster
    registry_url: str = "http://apicurio-registry:8080/apis/ccompat/v7"
    s3_endpoint_url: str = "http://seaweedfs-s3:8333"
    topic_replicas: int = 3
    lag_threshold: int = 1000  # records behind per replica before KEDA adds one
    transactional_lag_threshold: int = 100  # an OTP waiting behind 100 others is already late
    # Name of the Secret whose keys become environment variables (COURRIER_WEBHOOK_SECRET, a provider's *_env
    # references) and of the one whose keys become files in SECRET_FILES_DIR (*_file references). Made by the
    # operator, never by the generator: manifests reference secrets, they never hold one.
    env_secret: str = f"{NAME}-secrets"
    file_secret: str = f"{NAME}-secret-files"
