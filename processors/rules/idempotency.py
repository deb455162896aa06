"""Idempotency as the intake and the consent stage both apply it: the compacted ``idempotency`` record a key leaves,
whether its window is still open, and the key prefix reserved for Courrier's own claims."""
from __future__ import annotations

from datetime import datetime, timedelta

from processors.runtime.stage import Event, Output

# Keys starting with it are Courrier's own (message-id claims, keys scoped to an API key): callers may not send them.
RESERVED_KEY_PREFIX = "courrier:"
SCOPED_KEY_PREFIX = f"{RESERVED_KEY_PREFIX}key:"


def idempotency_record(key: str, message_id: str, now: datetime, window: timedelta) -> Output:
    """The compacted ``idempotency`` record saying ``key`` produced ``message_id`` until ``now + window``."""
    return Output("idempotency", key, {"idempotency_key": key, "message_id": message_id, "first_seen_at": now, "expires_at": now + window})


def live_message_id(record: Event | None, now: datetime) -> str | None:
    """The message id a key already produced, when its window is still open at ``now``."""
    if record is None or record["expires_at"] <= now:
        return None
    return str(record["message_id"])


def scoped_key(key: str | None, api_key_id: str | None) -> str | None:
    """The ``idempotency`` topic key under which a caller's idempotency ``key`` is stored: its API key's, or as given without one.

    API key ids are made of letters and digits (``processors.access.keys``), so the ``:`` after the id cannot be forged.
    """
    if not key or not api_key_id:
        return key or None
    return f"{SCOPED_KEY_PREFIX}{api_key_id}:{key}"
