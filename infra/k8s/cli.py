"""``courrier deploy render``: the Kubernetes manifests of this code's stages, lanes, services and topics."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from common.config import get_settings
from infra.k8s.target import Target

app = typer.Typer(no_args_is_help=True, help="Kubernetes manifests generated from the code (Deployments, KEDA, Strimzi topics).")
_DEFAULT = Target(config_text="")


@app.command()
def render(
    out: Optional[Path] = typer.Option(None, "--out", help="Write one file per part into this directory (kubectl apply -f DIR); stdout when unset."),
    config: Optional[Path] = typer.Option(None, "--config", exists=True, dir_okay=False,
                                          help="The configuration file to put in the ConfigMap; `courrier config example` when unset."),
    image: str = typer.Option(_DEFAULT.image, help="The Courrier image (Dockerfile)."),
    namespace: str = typer.Option(_DEFAULT.namespace, help="Namespace of every resource."),
    kafka_cluster: str = typer.Option(_DEFAULT.kafka_cluster, help="The Strimzi Kafka resource the topics belong to."),
    bootstrap_servers: str = typer.Option(_DEFAULT.bootstrap_servers, help="Kafka bootstrap servers, for the stages and KEDA."),
    registry_url: str = typer.Option(_DEFAULT.registry_url, help="Schema registry (Confluent-compatible API)."),
    s3_endpoint_url: str = typer.Option(_DEFAULT.s3_endpoint_url, help="S3 endpoint for MMS media."),
    topic_replicas: int = typer.Option(_DEFAULT.topic_replicas, min=1, help="Replicas of each topic's partitions."),
    lag_threshold: int = typer.Option(_DEFAULT.lag_threshold, min=1, help="Lag per replica before KEDA adds one."),
    transactional_lag_threshold: int = typer.Option(_DEFAULT.transactional_lag_threshold, min=1,
                                                    help="The same for the transactional dispatch lane."),
) -> None:
    """Render Deployments (one per stage, dispatch lane and HTTP service), Services, ConfigMaps, KEDA ScaledObjects
    on each stage's consumer lag and Strimzi KafkaTopics from topology/topics.py. Topic names take COURRIER_TOPIC_PREFIX."""
    from processors.config_example import example
    from infra.k8s.render import manifests, write
    from infra.k8s.yaml_out import dump_all

    target = Target(config_text=config.read_text(encoding="utf-8") if config else example(), image=image, namespace=namespace,
                    kafka_cluster=kafka_cluster, bootstrap_servers=bootstrap_servers, registry_url=registry_url,
                    s3_endpoint_url=s3_endpoint_url, topic_replicas=topic_replicas, lag_threshold=lag_threshold,
                    transactional_lag_threshold=transactional_lag_threshold)
    files = manifests(get_settings(), target)
    if out is None:
        typer.echo(dump_all([doc for documents in files.values() for doc in documents]), nl=False)
        return
    for path in write(files, out):
        typer.echo(str(path))
