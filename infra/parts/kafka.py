"""A single-node KRaft Kafka 4.1 broker from Maven Central jars, run on the ``java`` on PATH."""
from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

from common.config import Settings
from common.errors import UnreachableError
from infra.fetch import copy_dependencies, java
from infra.part import Launch, Part
from infra.process import port_open

POM_DIR = Path(__file__).resolve().parent.parent / "kafka"
LOG4J = POM_DIR / "log4j2.yaml"


def server_properties(settings: Settings) -> str:
    """The broker's ``server.properties``: broker and controller in one process, loopback only, data in the state directory."""
    data = KAFKA.home(settings) / "data"
    listen, controller = settings.kafka_port, settings.kafka_controller_port
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers=127.0.0.1:{controller}",
        f"listeners=PLAINTEXT://127.0.0.1:{listen},CONTROLLER://127.0.0.1:{controller}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{listen}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={data}",
        f"num.partitions={settings.partitions}",
        "offsets.topic.replication.factor=1",
        # 12 rather than 50 internal partitions: a laptop broker creates them in a blink and tests start faster.
        "offsets.topic.num.partitions=12",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=12",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        # Every topic is declared in topology/topics.py; a typo must fail, not create a topic.
        "auto.create.topics.enable=false",
        "",
    ])


def cluster_id() -> str:
    """A new KRaft cluster id: 16 random bytes, url-safe base64 without padding."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def _launch(settings: Settings) -> Launch:
    home = KAFKA.home(settings)
    properties = home / "server.properties"
    properties.write_text(server_properties(settings))
    log4j = f"-Dlog4j2.configurationFile={LOG4J}"
    classpath = str(home / "libs" / "*")
    if not (home / "data" / "meta.properties").exists():
        formatted = subprocess.run([java(), "-cp", classpath, log4j, "kafka.tools.StorageTool", "format", "--standalone",
                                    "-t", cluster_id(), "-c", str(properties), "--ignore-formatted"],
                                   capture_output=True, text=True, timeout=120)
        if formatted.returncode != 0:
            reason = (formatted.stderr or formatted.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UnreachableError(f"kafka: formatting {home / 'data'} failed: {reason[0]}; "
                                   f"remove that folder and run `courrier infra up kafka` again")
    return Launch([java(), "-Xms512m", "-Xmx1g", log4j, "-cp", classpath, "kafka.Kafka", str(properties)], home, {})


def _ready(settings: Settings) -> bool:
    if not port_open("127.0.0.1", settings.kafka_port):
        return False
    from common.kafka_clients import broker_answers

    return broker_answers(settings, timeout_s=2)


KAFKA = Part(
    name="kafka",
    port_setting="COURRIER_KAFKA_PORT",
    address=lambda s: s.bootstrap_servers,
    external=lambda s: s.kafka_bootstrap_servers,
    fetched=lambda s: any((KAFKA.home(s) / "libs").glob("kafka_2.13-*.jar")),
    fetch=lambda s: copy_dependencies(POM_DIR, KAFKA.home(s) / "libs"),
    launch=_launch,
    answers=lambda s: port_open("127.0.0.1", s.kafka_port),
    ready=_ready,
    start_timeout_s=180,  # a broker holding thousands of partitions (a long-lived dev box) takes over a minute to load them
)
