"""Which button of a message a click is about: the postback data Courrier gives each RCS suggestion.

Each suggestion carries ``courrier:<message id>/<n>`` (``n`` its position among the message's suggestions, from 0):
RBM's ``suggestionResponse`` names neither the message nor the button otherwise. The provider adapter writes it
(``postback_data``), its webhook reads it back (``read_postback``), and the receipt stage names the button of a
``CLICKED`` receipt from the report's raw body (``button_in``) as ``button:<n>``, as the links service names a
short link ``link:<token>``.
"""
from __future__ import annotations

import re

POSTBACK_PREFIX = "courrier:"
_POSTBACK = re.compile(re.escape(POSTBACK_PREFIX) + r"(?P<message>[0-9a-f-]{36})/(?P<button>\d{1,3})")


def postback_data(message_id: str, index: int) -> str:
    """The postback data of the ``index``-th suggestion (from 0) of ``message_id``."""
    return f"{POSTBACK_PREFIX}{message_id}/{index}"


def read_postback(data: str) -> tuple[str, int] | None:
    """(message id, button number) from postback data ``postback_data`` wrote; None for anything else."""
    found = _POSTBACK.fullmatch(data)
    return (found["message"], int(found["button"])) if found else None


def button_in(raw: str | None) -> str | None:
    """``button:<n>`` for the first postback data of ours found in a report's raw body, else None."""
    found = _POSTBACK.search(raw or "")
    return f"button:{int(found['button'])}" if found else None
