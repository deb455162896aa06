"""An authorized HTTP client for the module's private simulator (`sim`, from tests/conftest.py)."""
from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sim.testing import SimControl


@pytest.fixture
def api(sim: SimControl) -> Iterator[httpx.Client]:
    """A client of the provider routes with the right bearer token."""
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.token}"}, timeout=10) as client:
        yield client
