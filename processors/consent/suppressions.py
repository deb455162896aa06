"""Numbers erased on request (``courrier consent forget``), kept only as a salted hash so they are never messaged again.

The compacted ``suppressions`` topic is keyed by ``suppression_key(salt, e164)``, the hex SHA-256 of
``salt|E.164``: the number itself is stored nowhere, yet the consent stage can tell, for a number it is
asked to message, that it was erased. The salt is ``COURRIER_SUPPRESSION_SALT``; unset, a built-in one
(anyone who can read the topic can then test a number against it). It must never change once a
number is erased: every entry written under the old salt would stop matching.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from common.config import Settings
from processors.rules.numbers import Refusal
from processors.runtime.stage import Event

BUILT_IN_SALT = "courrier-suppressions"
REASON = "erased_on_request"


def salt(settings: Settings) -> str:
    """The salt of suppression keys: the ``suppression_salt`` setting, else ``BUILT_IN_SALT``."""
    given = settings.suppression_salt
    return given.get_secret_value() if given is not None else BUILT_IN_SALT


def salt_is_built_in(settings: Settings) -> bool:
    """Whether no ``suppression_salt`` is set (worth a warning where numbers are erased)."""
    return settings.suppression_salt is None


def suppression_key(salt_value: str, e164: str) -> str:
    """The ``suppressions`` key of ``e164``: hex SHA-256 of ``salt|e164`` (``e164`` already in E.164 form)."""
    return hashlib.sha256(f"{salt_value}|{e164}".encode("utf-8")).hexdigest()


def entry(now: datetime, recorded_by: str | None) -> Event:
    """The ``Suppression`` value written for an erased number: why, when and who asked; never the number."""
    return {"reason": REASON, "suppressed_at": now, "recorded_by": recorded_by}


class Suppressions:
    """The erased numbers as the consent stage asks about them: a table of ``suppressions`` and the salt."""

    def __init__(self, table: Mapping[str, Event], salt_value: str) -> None:
        self._table = table
        self._salt = salt_value

    def refusal(self, e164: str) -> Refusal | None:
        """Why ``e164`` may not be messaged (it was erased on request), or None."""
        found = self._table.get(suppression_key(self._salt, e164))
        if found is None:
            return None
        return Refusal(REASON, f"the recipient asked to be erased on {found['suppressed_at'].date().isoformat()}: "
                               "never messaged again, whatever the lane")
