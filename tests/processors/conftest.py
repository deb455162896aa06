"""Shared by every stage's tests: a check that an output's value fits its topic's Avro schema."""
from __future__ import annotations

from typing import Any, Callable

import pytest
from fastavro.validation import validate

import schemas
from topology.topics import topic


@pytest.fixture
def assert_valid() -> Callable[[Any], None]:
    """Validate an output's value against its topic's schema, raising with the offending field."""
    def check(output: Any) -> None:
        validate(output.value, schemas.parsed_schema(topic(output.topic).value_schema), raise_errors=True)
    return check
