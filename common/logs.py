"""JSON logs on stderr, with phone numbers masked wherever they appear (``+33 6 12 34 56 78`` → ``+3361****78``).

What counts as a phone number in free text (``mask_text``):
- a ``+`` then 8 or more digits, bare or grouped by spaces, dots, hyphens and parentheses (E.164 and
  every international format: ``+33 6 12 34 56 78``, ``+1 (415) 555-0123``);
- a national number with a trunk ``0`` (``0612345678``, ``06 12 34 56 78``, ``020 7946 0018``);
- a North American number written as one (``(415) 555-0123``, ``415-555-0123``, ``415.555.0123``).
Other digit runs are left alone: ids, offsets, timestamps, schema ids, decimals and JSON numbers
(a bare ``4155550123`` cannot be told from an id, so the formatter masks whole values of the fields
that hold numbers instead: ``recipient``, ``from``, ``to``, ``number``…).
"""
from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import Any

_PHONE = re.compile(r"""
    (?<![\w+.(-])\+(?:\d[\ .()-]{0,2}){7,}\d(?!\w)                               # international, any grouping
  | (?<![\w+.,-])0\d{8,14}(?![\w]|[.,]\d)                                        # national with a trunk 0, bare
  | (?<![\w+.,-])0\d{1,4}(?:[\ .-]\d{2,4}){2,5}(?![\w]|[.,\ -]\d)               # national with a trunk 0, grouped
  | (?<![\w+.,(-])(?:1[\ .-])?(?:\([2-9]\d\d\)\ ?|[2-9]\d\d[\ .-])[2-9]\d\d[.-]\d{4}(?![\w]|[.-]\d)  # North American
""", re.VERBOSE)
# Bare E.164 first, so a number followed by a space and other digits ("+33612345678 2 segments") is not read as one.
_E164 = re.compile(r"(?<![\w+.(-])\+\d{8,15}(?![\w])")
# Fields whose whole value is a phone number (or a sender name): masked whatever their format.
PHONE_FIELDS = frozenset({"recipient", "from", "to", "number", "phone", "msisdn", "sender", "source_addr", "destination_addr",
                          "from_e164", "to_e164"})
_DIGITS = re.compile(r"\d")


def mask_phone(number: str) -> str:
    """Keep the ``+``, the first four digits and the last two, so support can still tell numbers apart.

    Formatting is dropped first, so one number written two ways masks the same; masking a masked number changes nothing.
    """
    digits = "".join(_DIGITS.findall(number))
    plain = ("+" if number.lstrip().startswith("+") else "") + digits
    return f"{plain[:5]}****{plain[-2:]}"


def _mask_match(match: re.Match[str]) -> str:
    found = match.group(0)
    if sum(c.isdigit() for c in found) > 15 and not found.startswith("+"):
        return found  # not a phone number (E.164 stops at 15 digits)
    return mask_phone(found)


def mask_text(text: str) -> str:
    """``text`` with every phone number (as described above) masked; other digit runs kept."""
    return _PHONE.sub(_mask_match, _E164.sub(_mask_match, text))


def mask_field(name: str, value: Any) -> Any:
    """A field's value as logged: a number field's value masked whole when it holds 6 or more digits, else as is."""
    if name in PHONE_FIELDS and isinstance(value, str) and len(_DIGITS.findall(value)) >= 6:
        return mask_phone(value)
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields, all masked."""

    _RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: mask_field(k, v) for k, v in vars(record).items() if k not in self._RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_text(json.dumps(entry, default=str, ensure_ascii=False))


def configure(level: str = "INFO", stream=None) -> None:
    """Send every logger's records through one masked JSON handler; idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_courrier", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._courrier = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for chatty in ("httpx", "httpx2", "httpcore", "botocore", "urllib3"):  # one line per HTTP request drowns the stage's own logs
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
