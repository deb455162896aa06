"""A provider's secret from its setting or from the file its ``*_FILE`` setting names (a mounted secret), read the one
way every kind reads them: the file wins, its first line is the secret, and an unreadable or empty file, or no secret
at all, is one error line naming the setting — never the value."""
from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from common.errors import CourrierError


def secret_value(value: SecretStr, path: Path | None, setting: str, error: type[CourrierError], missing: str | None) -> str | None:
    """The secret, stripped. ``setting`` is its variable (``COURRIER_TWILIO_AUTH_TOKEN``); ``error`` the kind's config
    error; ``missing`` what to say when neither gives one (None: return None and let the caller decide)."""
    if path is not None:
        try:
            lines = path.expanduser().read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise error(f"{setting}_FILE {str(path)!r} is unreadable ({type(exc).__name__})") from None
        secret = lines[0].strip() if lines else ""
        if not secret:
            raise error(f"{setting}_FILE {str(path)!r} is empty")
        return secret
    secret = value.get_secret_value().strip()
    if secret:
        return secret
    if missing is None:
        return None
    raise error(f"{setting} (or {setting}_FILE) is not set: {missing}")
