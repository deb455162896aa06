"""Fixtures of the intake tests: one topic prefix and one running intake per module (starting one loads a table)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from intake_server import Served, serve

from common.config import Settings


@pytest.fixture(scope="module")
def intake_topics(real_parts: Settings) -> Iterator[Settings]:
    """A topic prefix shared by one test module, with the topology applied (the intake is slow to start per test).

    The module deletes its own topics when it is done: the session only cleans up the per-test prefixes it handed out.
    """
    from topology.apply import apply

    settings = real_parts.model_copy(update={"topic_prefix": f"t-{uuid.uuid4().hex[:10]}-", "partitions": 3})
    apply(settings)
    yield settings
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    names = sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(settings.topic_prefix))
    for name, future in (admin.delete_topics(names, operation_timeout=60).items() if names else ()):
        try:
            future.result()
        except KafkaException as exc:  # cleanup only
            print(f"could not delete test topic {name}: {exc}")


@pytest.fixture(scope="module")
def served(intake_topics: Settings) -> Iterator[Served]:
    with serve(intake_topics) as running:
        yield running
