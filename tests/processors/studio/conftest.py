"""The studio's pages on an app of their own, without a broker: the intake's key guard over a fixed set of keys and a
template store held in memory whose writes are kept (``Written``)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from fastapi import FastAPI

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import new_key
from processors.rules.prices import load_prices
from processors.runtime.stage import Output
from processors.studio.app import add_pages
from processors.templates_store.api import TemplateWriter
from processors.rules.template_versions import TemplateIndex

NOW = datetime(2026, 12, 7, 9, tzinfo=timezone.utc)


class Written:
    """A publisher that takes every record (the store's writes, kept to be checked)."""

    def __init__(self) -> None:
        self.records: list[Output] = []

    def start(self, _topics: Sequence[str]) -> None: ...

    def close(self) -> None: ...

    def publish(self, outputs: Sequence[Output]) -> list[str | None]:
        self.records.extend(outputs)
        return [None] * len(outputs)


@dataclass
class Studio:
    app: FastAPI
    written: Written
    keys: dict[str, str]  # editor (templates:read and write), reader (templates:read), sender (messages:send only)


@pytest.fixture
def studio_app() -> Studio:
    made = {name: new_key(name, scopes, NOW) for name, scopes in
            (("editor", ("templates:read", "templates:write")), ("reader", ("templates:read",)), ("sender", ("messages:send",)))}
    guard = KeyGuard(Settings(), keys={key.key_id: key.record for key in made.values()})
    written = Written()
    app = FastAPI()
    add_pages(app, guard, TemplateWriter(TemplateIndex(), written), load_prices)  # type: ignore[arg-type]
    return Studio(app, written, {name: key.key for name, key in made.items()})
