"""JSON logs on stderr, with phone numbers masked wherever they appear (``+33612345678`` → ``+3361****78``)."""
from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone

# An optional '+' then 8 to 15 digits, not glued to other digits or letters: E.164 and national forms alike.
_PHONE = re.compile(r"(?<![\w+])\+?\d{8,15}(?!\w)")


def mask_phone(number: str) -> str:
    """Keep the first five characters and the last two, so support can still tell numbers apart."""
    return f"{number[:5]}****{number[-2:]}"


def mask_text(text: str) -> str:
    """``text`` with every phone-number-looking run of digits masked."""
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


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
        entry.update({k: v for k, v in vars(record).items() if k not in self._RESERVED})
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
