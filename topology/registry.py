"""The schema registry as ``apply`` and ``check`` use it: one client, and its failures as one clear line each."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from common.config import Settings
from common.errors import UnreachableError
from topology.errors import TopologyError

SUBJECT_NOT_FOUND = 40401  # a 404 without this code means the URL is not a registry at all

try:  # confluent-kafka talks through httpx2 when it is installed, through httpx otherwise
    import httpx2

    TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError, httpx2.TransportError)
except ImportError:
    TRANSPORT_ERRORS = (httpx.TransportError,)


def registry_client(settings: Settings) -> SchemaRegistryClient:
    """A client of the configured registry that gives up after a few seconds instead of retrying for long."""
    return SchemaRegistryClient({"url": settings.registry_url, "timeout": 10, "max.retries": 1})


def is_subject_not_found(exc: SchemaRegistryError) -> bool:
    """The subject has no version yet (as opposed to a wrong URL, which also answers 404)."""
    return exc.http_status_code == 404 and exc.error_code == SUBJECT_NOT_FOUND


@contextmanager
def registry_errors(settings: Settings, action: str) -> Iterator[None]:
    """Turn a registry that does not answer, or refuses ``action``, into one line naming its address."""
    try:
        yield
    except TRANSPORT_ERRORS as exc:
        raise UnreachableError(f"schema registry {settings.registry_url} did not answer ({exc}); "
                               "run `courrier infra up registry` or set SCHEMA_REGISTRY_URL") from exc
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            raise TopologyError(f"schema registry {settings.registry_url} answered 404 to {action}: is SCHEMA_REGISTRY_URL the "
                                "Confluent-compatible API (…/apis/ccompat/v7 on Apicurio)?") from exc
        raise TopologyError(f"schema registry {settings.registry_url} refused to {action}: {exc}") from exc
