"""schemathesis over the OpenAPI of every HTTP service (intake, webhook receiver, links), in-process through ASGI on the
real parts: no 5xx, and every answer matching what its operation declares (status, content type, body schema, headers).

A small run (``MAX_EXAMPLES`` per operation); each app runs its own lifespan (Kafka producer, tables) under a topic
prefix of this module's own. The intake is called with an admin key, so the generated requests reach the endpoints.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import new_key

# Excluded: "a schema-valid request is accepted". Business rules a JSON Schema cannot say (a known template, a number
# that exists, its variables) answer 422, which the 422 description of each operation lists; every other check stays.
from schemathesis.specs.openapi.checks import positive_data_acceptance

MAX_EXAMPLES = 30
ADMIN = new_key("fuzz", ("admin",), datetime(2030, 1, 2, tzinfo=timezone.utc))
WEBHOOK_SECRET = "w" * 32


@pytest.fixture(scope="module")
def fuzz_settings(real_parts: Settings) -> Iterator[Settings]:
    from topology.apply import apply, remove

    settings = real_parts.model_copy(update={"topic_prefix": f"t-{uuid.uuid4().hex[:10]}-", "partitions": 1})
    apply(settings)
    yield settings
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()  # the apps' lifespans, which schemathesis started and keeps: producers flushed, tables stopped
    remove(settings)


@pytest.fixture(scope="module")
def intake_app(fuzz_settings: Settings) -> FastAPI:
    from processors.intake.api import create_app

    return create_app(fuzz_settings, guard=KeyGuard(fuzz_settings, keys={ADMIN.key_id: ADMIN.record}))


@pytest.fixture(scope="module")
def webhooks_app(fuzz_settings: Settings) -> FastAPI:
    from pydantic import SecretStr

    from processors.webhooks.api import create_app

    return create_app(fuzz_settings.model_copy(update={"webhook_secret": SecretStr(WEBHOOK_SECRET)}))


@pytest.fixture(scope="module")
def links_app(fuzz_settings: Settings) -> FastAPI:
    from processors.links.app import create_app

    return create_app(fuzz_settings)


FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)


def fuzz(app: FastAPI, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Every operation of ``app``'s OpenAPI fuzzed; the first failure of each (shrunk by hypothesis), by operation."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI declares no operation"
    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            call()
        except Exception as exc:  # schemathesis' failure groups: kept whole, to say every problem of every operation
            failures[operation.label] = f"{exc.__class__.__name__}: {exc}"[:3000]
    return failures


def test_intake(intake_app: FastAPI) -> None:
    assert fuzz(intake_app, {"Authorization": f"Bearer {ADMIN.key}"}) == {}


def test_webhooks(webhooks_app: FastAPI) -> None:
    assert fuzz(webhooks_app) == {}


def test_links(links_app: FastAPI) -> None:
    assert fuzz(links_app) == {}
