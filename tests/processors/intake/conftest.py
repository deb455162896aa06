"""Fixtures of the intake tests: one topic prefix and one running intake per module (starting one loads a table)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from intake_server import Served, serve

from courrier.config import Settings


@pytest.fixture(scope="module")
def intake_topics(real_parts: Settings) -> Settings:
    """A topic prefix shared by one test module, with the topology applied (the intake is slow to start per test)."""
    from topology.apply import apply

    settings = real_parts.model_copy(update={"topic_prefix": f"t-{uuid.uuid4().hex[:10]}-", "partitions": 3})
    apply(settings)
    return settings


@pytest.fixture(scope="module")
def served(intake_topics: Settings) -> Iterator[Served]:
    with serve(intake_topics) as running:
        yield running
