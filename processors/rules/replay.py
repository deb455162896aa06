"""The replay headers: what ``courrier replay`` stamps on each record it re-publishes, and what dispatch makes of them.

Every replayed record carries ``courrier-replay: <replay id>``; the runtime carries a record's headers onto its
outputs, so the id follows the message down the chain (consent → … → dispatch → receipt). A replay with ``--force``
also carries ``courrier-replay-force: <epoch ms>``, the moment the replay started: dispatch then submits the message
even though its ledger says it was handed over before, but only against ledger records older than that moment. So the
forced resend happens once: its own ledger records (written after the stamp) make a record read again after a crash,
a retry or a pacing deferral (which keep the header) answer from the ledger as usual.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Mapping

from processors.runtime.stage import Event

REPLAY = "courrier-replay"
FORCE = "courrier-replay-force"
# Why a forced resend's receipt exists (``processors.dispatch.logic.resent``).
FORCED_RESEND = "forced_resend"

Headers = list[tuple[str, bytes]]


def stamped(headers: Iterable[tuple[str, bytes | None]], replay_id: str, forced_at: datetime | None) -> Headers:
    """A record's headers for a replay: its own without an earlier replay's, then this replay's id (and force stamp)."""
    kept = [(k, v or b"") for k, v in headers if k not in (REPLAY, FORCE)]
    kept.append((REPLAY, replay_id.encode()))
    if forced_at is not None:
        kept.append((FORCE, str(int(forced_at.timestamp() * 1000)).encode()))
    return kept


def replay_id_of(headers: Mapping[str, bytes]) -> str | None:
    """The replay a record came from, or None."""
    value = headers.get(REPLAY)
    return value.decode("utf-8", "replace") if value else None


def forced_at(headers: Mapping[str, bytes]) -> datetime | None:
    """When the ``--force`` replay that re-published this record started; None when it was not forced (or the stamp is not a number)."""
    value = headers.get(FORCE)
    if not value or not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value) / 1000, timezone.utc)


def bypasses(headers: Mapping[str, bytes], previous: Event | None) -> bool:
    """Whether dispatch submits this record despite its ledger record ``previous``: a forced replay's record, and a ledger
    record that would stop the submit (SUBMITTING, SUBMITTED; FAILED ones are submitted again anyway) older than the
    replay (a newer one is the forced resend's own)."""
    since = forced_at(headers)
    return (since is not None and previous is not None and previous["state"] != "FAILED"
            and previous["updated_at"] < since)
