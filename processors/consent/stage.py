"""The consent stage: ``send-requested`` → ``consent-checked``, or a rejected, suppressed or expired receipt."""
from __future__ import annotations

from typing import Mapping

from processors.consent.logic import check
from processors.runtime.stage import Event, Output, RecordMeta


class ConsentStage:
    """Checks each request against the number rules and a read-only consent view keyed ``E164|group``.

    The view's values are ``ConsentChange`` dicts; in production it is a table of the compacted
    ``consent`` topic, in tests a plain dict.
    """

    name = "consent"
    inputs = ("send-requested",)

    def __init__(self, consents: Mapping[str, Event]) -> None:
        self._consents = consents

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        return check(event, self._consents, meta.now)
