"""Session-wide real parts: an external cluster when its env vars are set, else the local jars, else testcontainers.

The parts start once per test session; each test that needs topics gets its own topic prefix,
so tests never see each other's records.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from common.config import Settings
import infra

if TYPE_CHECKING:
    from sim.testing import SimControl

# There is no built-in webhook secret: the session makes its own, random, before any Settings is built (modules build
# some at import), so every receiver, simulator and stage process this session starts agrees on it. A test that needs
# "no secret" removes it with monkeypatch.
os.environ.setdefault("COURRIER_WEBHOOK_SECRET", secrets.token_urlsafe(32))


@pytest.fixture(scope="session")
def real_parts() -> Iterator[Settings]:
    """Settings pointing at a running Kafka, registry, S3, SMPP peer and provider simulator for the whole session.

    The simulator's base URL is ``settings.sim_address`` (its token ``settings.sim_token``); it is shared by the whole
    session, so a test that changes its faults runs its own instead (``sim.testing.private_sim``)."""
    settings = Settings()
    started: list[str] = []
    stop_containers = None
    try:
        started = infra.ensure_running(settings)
    except Exception as local_error:  # no Java or no Maven here: try Docker before giving up
        from infra import containers

        if not containers.docker_available():
            raise
        overrides, stop_containers = containers.start_with_testcontainers(settings)
        os.environ.update(overrides)
        settings = Settings()
        started = infra.ensure_running(settings, parts=("smsc", "sim"))  # each skips itself when external
        print(f"local parts failed ({local_error}); using testcontainers")
    before = _topics(settings)
    yield settings
    _delete_topics(settings, {n for n in _topics(settings) - before if _ours(n)})
    if started:
        infra.stop(settings, started)
    if stop_containers:
        stop_containers()


# Per-test topic prefixes (topic_settings) handed out by this session: several sessions may share one broker, and a
# session must not delete another's per-test topics while its tests still run.
_PREFIXES: list[str] = []
_PER_TEST = re.compile(r"t-[0-9a-f]{10}-")


def _ours(name: str) -> bool:
    return not _PER_TEST.match(name) or name.startswith(tuple(_PREFIXES))


def _topics(settings: Settings) -> set[str]:
    from confluent_kafka.admin import AdminClient

    return set(AdminClient({"bootstrap.servers": settings.bootstrap_servers}).list_topics(timeout=10).topics)


def _delete_topics(settings: Settings, names: set[str]) -> None:
    """Remove what the session created: thousands of leftover partitions slow every later start of a broker that keeps its data."""
    from confluent_kafka.admin import AdminClient

    from confluent_kafka import KafkaException

    if names:
        admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})  # kept alive until every future is done
        for name, future in admin.delete_topics(sorted(names), operation_timeout=60).items():
            try:
                future.result()
            except KafkaException as exc:  # cleanup only: a topic that will not go is not a test failure
                print(f"could not delete test topic {name}: {exc}")


@pytest.fixture
def topic_settings(real_parts: Settings, request: pytest.FixtureRequest) -> Settings:
    """The session's parts with a topic prefix of this test's own, and its topology applied: 3 partitions per topic,
    or as many as the test's ``@pytest.mark.partitions(N)`` says."""
    from topology.apply import apply

    marker = request.node.get_closest_marker("partitions")
    partitions = int(marker.args[0]) if marker else 3
    settings = real_parts.model_copy(update={"topic_prefix": f"t-{uuid.uuid4().hex[:10]}-", "partitions": partitions})
    _PREFIXES.append(settings.topic_prefix)
    apply(settings)
    return settings


@pytest.fixture(scope="module")
def module_sim() -> Iterator["SimControl"]:
    """A provider simulator of this test module's own (``sim.testing.private_sim``), free to change its faults."""
    from sim.testing import private_sim

    with private_sim() as control:
        yield control


@pytest.fixture
def sim(module_sim: "SimControl") -> "SimControl":
    """The module's simulator, back to its defaults (no webhooks, no faults, nothing stored)."""
    module_sim.reset()
    return module_sim


@pytest.fixture(autouse=True)
def _logger_levels_restored() -> Iterator[None]:
    """Every logger's level as it was before the test: a test that configures logging (``common.logs.configure``, a
    CLI run in-process) must not filter out the lines a later test asserts on. Handlers are pytest's to manage."""
    levels = {name: logger.level for name, logger in logging.Logger.manager.loggerDict.items() if isinstance(logger, logging.Logger)}
    root = logging.getLogger().level
    yield
    logging.getLogger().setLevel(root)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the real parts are integration tests, whatever their file says."""
    for item in items:
        if "real_parts" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
