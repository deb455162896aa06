"""Frequency caps: at most N marketing messages per recipient and subscription group within a sliding window.

The state lives in Kafka, not on a disk: the compacted ``frequency`` topic (key ``E164|group``,
value ``FrequencyRecord``) holds the marketing messages the consent stage let through recently,
each with its id and time. Every consent instance reads the topic with a ``TopicTable`` and writes
a new record each time it lets a marketing message through.

Where the count happens. ``send-requested`` is keyed by the recipient *as given*, so
``+33 6 12 34 56 78`` and ``0612345678`` can land on two partitions read by two instances, each
counting alone. So a marketing message is counted only on the partition of its E.164 key: one
about to pass whose record key is not its E.164 is put back on ``send-requested`` keyed by E.164
first, and deferred messages come back under that key. One partition, so one instance at a time,
owns a recipient's count. The trade-offs, chosen for simplicity:

- a marketing message published under another format takes one more hop through
  ``send-requested`` (transactional messages are not counted and never take it);
- after a rebalance the new owner's table may not yet show the previous owner's very last
  records (it follows the topic in the background, usually well within a second): a burst to one
  recipient at that exact moment can pass a cap by what was let through meanwhile;
- a message counts when consent lets it through, whether or not it is then delivered;
- a message seen twice (redelivery after a crash, a repeated release by the scheduler) counts once:
  the record holds message ids.
"""
from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping

from processors.rules.numbers import Refusal
from processors.runtime.own_writes import OwnWrites
from processors.runtime.stage import Event, Output

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "frequency_caps.toml"
# The frequency topic keeps a record 31 days after its last write (topology/topics.py): no window may be longer.
MAX_WINDOW = timedelta(days=30)


class FrequencyCapError(ValueError):
    """The caps file is malformed."""


@dataclass(frozen=True)
class Cap:
    """At most ``max_messages`` within ``window``; ``max_messages == 0`` means no cap."""

    max_messages: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.max_messages < 0:
            raise FrequencyCapError(f"max_messages must be 0 (no cap) or more, not {self.max_messages}")
        if not timedelta(0) < self.window <= MAX_WINDOW:
            raise FrequencyCapError(f"the window must be more than 0 and at most {MAX_WINDOW.days} days, not {self.window}")


# The settings' defaults (COURRIER_FREQUENCY_CAP_MAX, COURRIER_FREQUENCY_CAP_WINDOW_DAYS) are these numbers too.
DEFAULT_CAP = Cap(3, timedelta(days=7))


@dataclass(frozen=True)
class FrequencyCaps:
    """The cap of each subscription group the data names, and the default for the others."""

    default: Cap = DEFAULT_CAP
    groups: Mapping[str, Cap] = field(default_factory=dict)

    def cap(self, group: str) -> Cap:
        return self.groups.get(group, self.default)


def load_caps(path: Path | None = None, default: Cap = DEFAULT_CAP) -> FrequencyCaps:
    """The caps of a TOML file (the bundled one by default) over ``default``; ``FrequencyCapError`` naming what is wrong."""
    source = path or DEFAULT_FILE
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FrequencyCapError(f"cannot read frequency caps from {source}: {exc}") from exc
    groups: dict[str, Cap] = {}
    for group, table in (data.get("groups") or {}).items():
        unknown = set(table) - {"max_messages", "window_days"}
        if unknown or "max_messages" not in table or "window_days" not in table:
            raise FrequencyCapError(f"{source}: groups.{group} needs exactly max_messages and window_days")
        try:
            groups[group] = Cap(int(table["max_messages"]), timedelta(days=float(table["window_days"])))
        except (TypeError, ValueError) as exc:
            raise FrequencyCapError(f"{source}: groups.{group}: {exc}") from exc
    return FrequencyCaps(default, groups)


def admit(record: Event | None, e164: str, group: str, message_id: str, cap: Cap | None, now: datetime,
          keep: tuple[int, timedelta] | None = None) -> Output | Refusal:
    """The new ``frequency`` record when this message fits the cap (or was counted already), else why it does not.

    The record keeps only the sends still inside the window, and no more than the cap needs; ``keep``
    (a country's marketing limit: count, window) widens both, so the limit can be judged from the
    same record. A group without a cap (``None`` or ``max_messages == 0``) refuses nothing; with no
    ``keep`` either there is nothing to count: ``ValueError``.
    """
    capped = cap is not None and cap.max_messages > 0
    if not capped and keep is None:
        raise ValueError("a cap of 0 means no cap: there is nothing to count")
    window = max(cap.window if capped else timedelta(0), keep[1] if keep else timedelta(0))
    most = max(cap.max_messages if capped else 0, keep[0] if keep else 0)
    recent = sorted((s for s in (record or {}).get("sends", ()) if s["sent_at"] > now - window), key=lambda s: s["sent_at"])
    if not any(s["message_id"] == message_id for s in recent):
        if capped:
            within = [s for s in recent if s["sent_at"] > now - cap.window]
            if len(within) >= cap.max_messages:
                return Refusal("frequency_cap", f"{len(within)} marketing message{'s' if len(within) != 1 else ''} of subscription "
                                                f"group {group!r} within {_days(cap.window)}, the cap is {cap.max_messages}")
        recent.append({"message_id": message_id, "sent_at": now})
    return Output("frequency", f"{e164}|{group}", {
        "e164": e164, "subscription_group": group, "sends": recent[-most:], "updated_at": now,
    })


def limit_release(record: Event | None, max_messages: int, window: timedelta, message_id: str, now: datetime) -> datetime | None:
    """When one more marketing message fits ``max_messages`` within ``window``, if not now (a message already counted fits)."""
    recent = sorted(s["sent_at"] for s in (record or {}).get("sends", ()) if s["sent_at"] > now - window)
    if any(s["message_id"] == message_id for s in (record or {}).get("sends", ())) or len(recent) < max_messages:
        return None
    # The send that must leave the window for one more to fit: it has left at sent_at + window (inside means > now - window).
    return recent[len(recent) - max_messages] + window


def _days(window: timedelta) -> str:
    days = window / timedelta(days=1)
    return f"{days:g} day{'s' if days != 1 else ''}"


class RecentSends(Mapping[str, Event]):
    """The frequency view one consent instance counts with: the topic's table plus the records it wrote itself.

    The table shows this instance's own writes only once they have gone round the broker; until
    then (a batch can hold several messages to one recipient) the records remembered here fill the
    gap. The two are merged by message id, so neither can hide a send the other knows.
    """

    def __init__(self, table: Mapping[str, Event]) -> None:
        self._table = table
        self._written = OwnWrites(table, merge=_merged, covers=lambda theirs, mine: _ids(mine) <= _ids(theirs), keep=1024)

    def remember(self, outputs: Iterable[Output]) -> None:
        """Keep the ``frequency`` records among a message's outputs until the table shows them."""
        for output in outputs:
            if output.topic == "frequency":
                self._written.remember(output.key, output.value)  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Event:
        found = self._written.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(set(self._table) | self._written.keys())

    def __len__(self) -> int:
        return len(set(self._table) | self._written.keys())


def _merged(theirs: Event, mine: Event) -> Event:
    sends = {s["message_id"]: s for s in [*theirs["sends"], *mine["sends"]]}
    return {**mine, "sends": list(sends.values())}


def _ids(record: Mapping[str, Any]) -> set[str]:
    return {s["message_id"] for s in record["sends"]}
