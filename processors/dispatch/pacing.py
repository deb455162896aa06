"""Per-sender throughput limits, counted in segments: how fast a sender may submit, and when its next message may go.

Pure: every function takes the time (``time.monotonic()`` seconds in production) as an argument. A
``Budget`` is one sender's limit, a ``Pacer`` holds the budgets of the senders this process owns
(``rendered`` is keyed by sender, so one partition, hence one dispatch process, owns each sender).

Why two rules per budget: an even spacing of ``segments / rate`` between messages (a token bucket of
one token, GCRA) keeps traffic smooth, but a long message sent after short ones can still put more
than ``rate`` segments in some one-second window; the exact count of what left in the last second
(the window) is what guarantees the carrier's limit. Times recorded are the moments messages were
actually handed to the provider (``Pacer.take`` then ``Pacer.restamp``), never planned times.
"""
from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from common.errors import CourrierError
from processors.runtime.stage import Event

DEFAULT_LIMITS = Path(__file__).resolve().parent / "data" / "pacing.json"
# A sender that fell behind its even grid by less than one window (a timer that woke late, a deferred message
# back late) keeps the grid and catches up as fast as the window allows; later than that, the grid restarts from
# the message (no burst after an idle sender).
# Fast senders may go up to this much ahead of the grid, so one wave (one ledger write, one windowed submit) carries
# several of their messages; slow senders (one segment per 100 ms or slower) stay strictly spaced.
BURST_S = 0.1
# A deferred message back while the ones ahead of it are still out waits at least this long before it looks again.
MIN_WAIT_S = 0.2


class BadPacingFile(CourrierError):
    """The pacing limits file cannot be read or holds a limit that is not a positive number."""


@dataclass(frozen=True)
class PacingLimits:
    """Segments per second by sender type, per channel and type (MMS), and per sender id (overrides the type)."""

    by_type: Mapping[str, float]
    by_channel: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    by_sender: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = DEFAULT_LIMITS) -> PacingLimits:
        """Limits from a JSON file (see ``data/pacing.json``); keys starting with ``_`` are comments."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadPacingFile(f"pacing limits {path}: {exc}") from None
        return cls(_rates(raw.get("sender_types", {}), path),
                   {channel: _rates(types, path) for channel, types in raw.get("channels", {}).items() if not channel.startswith("_")},
                   _rates(raw.get("senders", {}), path))

    def rate(self, sender: Event, channel: str) -> float:
        """The most restrictive of the sender's own entry (else its type's), its channel's cap and its record's class."""
        candidates = [self.by_sender.get(sender["sender_id"], self.by_type.get(sender["type"])),
                      self.by_channel.get(channel, {}).get(sender["type"]), sender.get("segments_per_second")]
        known = [float(c) for c in candidates if c is not None and c > 0]
        if not known:
            raise ValueError(f"no pacing limit for sender type {sender['type']} on {channel}")
        return min(known)


def _rates(table: Mapping[str, Any], where: Path) -> dict[str, float]:
    try:
        rates = {str(k): float(v) for k, v in table.items() if not str(k).startswith("_")}
    except (TypeError, ValueError, AttributeError) as exc:
        raise BadPacingFile(f"pacing limits {where}: {exc}") from None
    bad = sorted(k for k, v in rates.items() if not (v > 0 and math.isfinite(v)))
    if bad:
        raise BadPacingFile(f"pacing limits {where}: limits must be positive numbers, not for {bad}")
    return rates


def cost(event: Event) -> int:
    """Segments a rendered message counts against its sender: its SMS segments; one for an MMS or an RCS message."""
    if event["channel"] != "SMS":
        return 1
    return max(1, int((event.get("sms") or {}).get("segments", 1)))


def budget_key(event: Event) -> str:
    """One budget per sender id, country it serves and channel (an alphanumeric id is registered per country;
    carriers meter MMS apart from SMS)."""
    sender = event["sender"]
    return f"{sender['sender_id']}|{sender['country']}|{event['channel']}"


class Budget:
    """One sender's limit: at most ``rate`` segments in any window of ``span`` seconds (1 s, or 1/rate below 1/s),
    spaced evenly (fast senders a little ahead, ``BURST_S``). A message of more segments than a window holds
    leaves alone in its window."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = -math.inf  # when the next segment is due on the even grid
        self._early_s = max(0.0, BURST_S - 1.0 / rate)
        self._sent: deque[tuple[float, int]] = deque()  # (time handed over, segments), oldest first, within one span
        self._in_window = 0

    @property
    def span(self) -> float:
        return 1.0 if self.rate >= 1 else 1.0 / self.rate

    @property
    def capacity(self) -> float:
        return self.rate * self.span

    def set_rate(self, rate: float) -> None:
        """A new limit (the pacing file or the sender's class changed); what was sent stays counted."""
        self.rate = rate
        self._early_s = max(0.0, BURST_S - 1.0 / rate)

    def ready_at(self, segments: int, now: float) -> float:
        """The earliest time ≥ ``now`` at which a message of ``segments`` may be handed over."""
        self._forget(now)
        at = max(now, self._next - self._early_s)
        excess = self._in_window + min(segments, self.capacity) - self.capacity
        if excess <= 1e-9:
            return at
        dropped = 0
        for sent_at, count in self._sent:  # the oldest leave the window first: wait until enough have
            dropped += count
            if dropped >= excess - 1e-9:
                return max(at, sent_at + self.span)
        return max(at, self._sent[-1][0] + self.span)

    def take(self, segments: int, at: float) -> None:
        """Record a message handed over at ``at`` (call only when ``ready_at`` allowed it)."""
        self._sent.append((at, segments))
        self._in_window += segments
        interval = segments / self.rate
        late = at - self._next
        self._next = (self._next if 0 <= late <= self.span else max(self._next, at)) + interval

    def restamp(self, taken_at: float, handed_at: float) -> None:
        """Move the newest record from ``taken_at`` to when the message really left (later): the window counts real times."""
        for index in range(len(self._sent) - 1, -1, -1):
            sent_at, count = self._sent[index]
            if sent_at == taken_at:
                self._sent[index] = (handed_at, count)
                return
            if sent_at < taken_at:
                return

    def _forget(self, now: float) -> None:
        while self._sent and self._sent[0][0] <= now - self.span:
            self._in_window -= self._sent.popleft()[1]


@dataclass
class _Backlog:
    """A sender's messages sent to wait in the ``scheduled`` topic, in the sender's order: each leaves only after the ones
    before it, and new messages queue behind them. Slots are stored before ``shift``, the delay added to all of them
    when the first one came back to a budget busier than planned."""

    slots: OrderedDict[str, float] = field(default_factory=OrderedDict)
    shift: float = 0.0
    until: float = -math.inf  # when the last one's slot ends (shift included)


class Admission(Enum):
    """What a message may do given its sender's deferred messages."""

    GO = "go"  # no backlog, or the first of it came back: pace it now
    BEHIND = "behind"  # a new message: it queues behind the backlog
    KEEP = "keep"  # a deferred message back before the ones ahead of it: it waits again, keeping its place


@dataclass(frozen=True)
class Deferral:
    """A message to put back on its topic ``delay_s`` from the time it was decided, at its ``slot`` (monotonic)."""

    slot: float
    delay_s: float


@dataclass(frozen=True)
class SenderPace:
    """One budget as the metrics see it: its key (``budget_key``), limit, backlog and totals handed over."""

    key: str
    rate: float
    backlog: int
    messages: int
    segments: int


class Pacer:
    """The budgets of every sender this process sends for, shared by the lanes' stages (thread-safe).

    Priority: while a transactional message waits for a sender, that sender's budget is refused to the
    other lane, so an OTP waits for at most the next free slot, never behind a campaign's queue.
    """

    def __init__(self, limits: PacingLimits, backlog_grace_s: float = 30.0) -> None:
        self.limits = limits
        self._budgets: dict[str, Budget] = {}
        self._backlogs: dict[str, _Backlog] = {}
        self._claims: dict[str, int] = {}
        self._taken: dict[str, list[int]] = {}  # budget key → [messages, segments] handed over since start, for the metrics
        self._grace_s = backlog_grace_s
        self._lock = threading.Lock()

    def rate(self, event: Event) -> float:
        return self.limits.rate(event["sender"], event["channel"])

    def ready_at(self, key: str, rate: float, segments: int, now: float, priority: bool = False) -> float:
        """When a message of ``segments`` for budget ``key`` may go; a claimed budget is not ready for non-priority traffic."""
        with self._lock:
            ready = self._budget(key, rate).ready_at(segments, now)
            if not priority and self._claims.get(key):
                return max(ready, now + min(0.05, 1.0 / rate))  # look again shortly: the claim ends with its message
            return ready

    def take(self, key: str, rate: float, segments: int, at: float) -> None:
        with self._lock:
            self._budget(key, rate).take(segments, at)
            taken = self._taken.setdefault(key, [0, 0])
            taken[0] += 1
            taken[1] += segments

    def snapshot(self) -> list[SenderPace]:
        """Each budget's limit, messages waiting in its backlog and what it handed over since start (for the metrics)."""
        with self._lock:
            return [SenderPace(key, budget.rate, len(self._backlogs[key].slots) if key in self._backlogs else 0,
                               *self._taken.get(key, (0, 0)))
                    for key, budget in self._budgets.items()]

    def restamp(self, taken: list[tuple[str, float]], handed_at: float) -> None:
        """The messages taken at these times left at ``handed_at``: count them there."""
        with self._lock:
            for key, taken_at in taken:
                budget = self._budgets.get(key)
                if budget is not None:
                    budget.restamp(taken_at, handed_at)

    def claim(self, key: str) -> None:
        with self._lock:
            self._claims[key] = self._claims.get(key, 0) + 1

    def release(self, key: str) -> None:
        with self._lock:
            left = self._claims.get(key, 0) - 1
            if left > 0:
                self._claims[key] = left
            else:
                self._claims.pop(key, None)

    def admit(self, key: str, message_id: str, now: float) -> Admission:
        """Whether a message of budget ``key`` may be paced now, queues behind the deferred ones, or waits again."""
        with self._lock:
            backlog = self._backlogs.get(key)
            if backlog is None:
                return Admission.GO
            if now > backlog.until + self._grace_s:  # some never came back (dead-lettered, taken by another instance)
                del self._backlogs[key]
                return Admission.GO
            if message_id not in backlog.slots:
                return Admission.BEHIND
            if next(iter(backlog.slots)) != message_id:
                return Admission.KEEP
            del backlog.slots[message_id]
            if not backlog.slots:
                del self._backlogs[key]
            return Admission.GO

    def forget(self, key: str, message_id: str) -> None:
        """A deferred message ended without being paced (expired, already handed over): those behind it need not wait."""
        with self._lock:
            backlog = self._backlogs.get(key)
            if backlog is not None and backlog.slots.pop(message_id, None) is not None and not backlog.slots:
                del self._backlogs[key]

    def defer_front(self, key: str, rate: float, items: list[tuple[str, int]], ready: float, now: float, lead_s: float) -> list[Deferral]:
        """Defer messages (id, segments) that must go before the sender's backlog — the first of it, back to a busy budget,
        and the rest of its batch — from ``ready`` on; the backlog moves back as far as they need. They should be back
        ``lead_s`` before their slots; delays count from ``now``."""
        with self._lock:
            backlog = self._backlogs.setdefault(key, _Backlog())
            slots, slot = [], ready
            for _message_id, segments in items:
                slots.append(slot)
                slot += segments / rate
            if backlog.slots:
                first_slot = next(iter(backlog.slots.values())) + backlog.shift
                if first_slot < slot:
                    backlog.shift += slot - first_slot
                    backlog.until += slot - first_slot
            ahead = OrderedDict((message_id, at - backlog.shift) for (message_id, _segments), at in zip(items, slots))
            backlog.slots = OrderedDict([*ahead.items(), *backlog.slots.items()])
            backlog.until = max(backlog.until, slot)
            return [Deferral(at, max(0.0, at - lead_s - now)) for at in slots]

    def defer_back(self, key: str, rate: float, items: list[tuple[str, int]], ready: float, now: float, lead_s: float) -> list[Deferral]:
        """Defer new messages (id, segments) behind the sender's backlog, from ``ready`` at the earliest."""
        with self._lock:
            backlog = self._backlogs.setdefault(key, _Backlog())
            slot = max(ready, backlog.until)
            deferrals = []
            for message_id, segments in items:
                backlog.slots[message_id] = slot - backlog.shift
                deferrals.append(Deferral(slot, max(0.0, slot - lead_s - now)))
                slot += segments / rate
            backlog.until = slot
            return deferrals

    def defer_keep(self, key: str, message_id: str, now: float, lead_s: float) -> Deferral:
        """Send a deferred message that came back before the ones ahead of it away again, at its (shifted) slot."""
        with self._lock:
            backlog = self._backlogs[key]
            slot = backlog.slots[message_id] + backlog.shift
            return Deferral(slot, max(MIN_WAIT_S, slot - lead_s - now))

    def _budget(self, key: str, rate: float) -> Budget:
        budget = self._budgets.get(key)
        if budget is None:
            budget = self._budgets[key] = Budget(rate)
        elif budget.rate != rate:
            budget.set_rate(rate)
        return budget
