"""Who may call what: a presented key, the scope an endpoint needs and the key records → a grant or a refusal.

Pure: the records come from a lookup, so the rules are tested without Kafka or HTTP. A refusal says
as little as it can: an unknown id and a wrong secret are both ``invalid_api_key``; ``revoked_api_key``
is said only to whoever holds the real (revoked) key.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from processors.access.keys import key_id_of, verify
from processors.access.scopes import grants


@dataclass(frozen=True)
class Grant:
    """An accepted key: its id (what events carry), its own limits (None: the defaults) and the countries it may send to
    (None: any)."""

    key_id: str
    name: str
    rate_per_s: float | None
    burst: int | None
    countries: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Denial:
    """A refused request: 401 (no valid key) or 403 (key without the scope), a code, a sentence, the claimed id if any."""

    status: int
    code: str
    message: str
    key_id: str | None = None


def authorize(token: str | None, needed: str, lookup: Callable[[str], dict[str, Any] | None]) -> Grant | Denial:
    """Check ``token`` (the bearer credential, or None) against the record ``lookup`` finds for its id, then the scope."""
    if not token:
        return Denial(401, "missing_api_key", "send an API key as `Authorization: Bearer courrier_live_…`")
    key_id = key_id_of(token)
    record = lookup(key_id) if key_id is not None else None
    if not verify(token, record) or record is None:
        return Denial(401, "invalid_api_key", "the API key is not valid", key_id)
    if record["revoked_at"] is not None:
        return Denial(401, "revoked_api_key", "the API key was revoked", key_id)
    if not grants(record["scopes"], needed):
        return Denial(403, "insufficient_scope", f"the API key lacks the scope {needed!r}", key_id)
    countries = tuple(record.get("countries") or ()) or None
    return Grant(key_id=str(record["key_id"]), name=str(record["name"]), rate_per_s=record["rate_per_s"], burst=record["burst"],
                 countries=countries)
