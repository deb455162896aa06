"""``courrier replay``, the decisions: which topic a stage reads a replayed range from, what the bounds and filters
mean, and how an interrupted replay resumes. The broker side is ``courrier.replay_copy``.

A replay re-publishes a range of a topic into the input topic of a stage, each record with its key, its original
bytes and its headers, stamped with the replay's id (``processors.rules.replay``). The stage's inputs are the
topology's (``topology.topics``: the streamed topics, not the compacted tables, whose readers name the stage); the
target is the one among them carrying the source's records (the same value schema), the source itself when the stage
reads it. What was already done is not done twice by the stages themselves: consent checks consent again as of now
(an opt-out since the first pass suppresses the message) and passes the same request seen again; dispatch's ledger
never submits a message twice, unless the replay is forced.
"""
from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict

from common.errors import CourrierError
from topology.topics import TOPICS, Topic, topic as declared_topic

# What a --filter NAME may be, and where each looks in a record's value (the first path the value has).
FILTER_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "campaign": (("context", "campaign_id"),),
    "status": (("status",), ("state",)),
    "recipient": (("recipient", "e164"), ("recipient",), ("from_e164",), ("e164",)),
}
NONE = "-"


class ReplayError(CourrierError):
    """Bad replay input (unknown topic or stage, an empty range, a range retention has deleted…): nothing was sent."""


class Interrupted(CourrierError):
    """A replay stopped before its end (Ctrl-C, the broker refusing or stalling): what was sent is delivered; ``resume``
    is where each partition goes on (partition → next source offset)."""

    def __init__(self, why: str, sent: int, resume: dict[int, int]) -> None:
        super().__init__(f"{why} after {sent} records")
        self.why = why
        self.sent = sent
        self.resume = resume


@dataclass(frozen=True)
class Bound:
    """One end of a range: an offset (in the partition given with --partition) or a time (UTC)."""

    offset: int | None = None
    time: datetime | None = None

    def __str__(self) -> str:
        return str(self.offset) if self.offset is not None else _iso(self.time)


def parse_bound(text: str, name: str, now: datetime) -> Bound:
    """``123`` (an offset), ``now``, or an ISO 8601 time (UTC when it names no offset); ``ReplayError`` otherwise."""
    value = text.strip()
    if value.isdigit():
        return Bound(offset=int(value))
    if value.lower() == "now":
        return Bound(time=now)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ReplayError(f"{name} {text!r} is neither an offset nor an ISO 8601 time (e.g. 2026-12-07T08:00:00Z) nor 'now'") from None
    return Bound(time=parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc))


@dataclass(frozen=True)
class Filter:
    """``--filter NAME=VALUE``: records whose value has VALUE at one of NAME's paths (``FILTER_PATHS``)."""

    name: str
    value: str

    def __str__(self) -> str:
        return f"{self.name}={self.value}"

    def matches(self, value: Mapping[str, Any]) -> bool:
        found = field_of(value, self.name)
        return found is not None and str(found) == self.value


def parse_filter(text: str) -> Filter:
    """``campaign=…``, ``status=…`` or ``recipient=…``; ``ReplayError`` for anything else."""
    name, sep, value = text.partition("=")
    if not sep or name.strip() not in FILTER_PATHS or not value.strip():
        raise ReplayError(f"filter {text!r} is not NAME=VALUE with NAME one of {', '.join(FILTER_PATHS)}")
    return Filter(name.strip(), value.strip())


def field_of(value: Mapping[str, Any], name: str) -> Any:
    """The value of ``name`` (a ``FILTER_PATHS`` key) in a record's value, or None when it has none."""
    for path in FILTER_PATHS[name]:
        found: Any = value
        for step in path:
            found = found.get(step) if isinstance(found, Mapping) else None
        if found is not None and not isinstance(found, Mapping):
            return found
    return None


def check_filters(source: Topic, filters: list[Filter], schema_fields: set[str]) -> None:
    """Refuse a filter the source topic's records cannot match (its schema has none of the filter's fields)."""
    for wanted in filters:
        if not any(path[0] in schema_fields for path in FILTER_PATHS[wanted.name]):
            raise ReplayError(f"--filter {wanted.name}: the records of {source.name} ({source.value_schema}) have no such field")


def stage_inputs(stage: str) -> tuple[Topic, ...]:
    """The topics a stage consumes as a stream, from the topology (compacted tables and schemaless delay topics aside)."""
    return tuple(t for t in TOPICS if stage in t.readers and not t.compacted and t.value_schema is not None)


def target_topic(source: str, stage: str, stages: tuple[str, ...]) -> str:
    """The logical topic a replay of ``source`` into ``stage`` writes to; ``ReplayError`` naming what is possible."""
    try:
        found = declared_topic(source)
    except KeyError as exc:
        raise ReplayError(exc.args[0]) from None
    if stage not in stages:
        raise ReplayError(f"no stage {stage!r}; choose one of {', '.join(stages)}")
    inputs = stage_inputs(stage)
    if found in inputs:
        return found.name
    same = [t.name for t in inputs if found.value_schema is not None and t.value_schema == found.value_schema]
    if len(same) == 1:
        return same[0]
    reads = ", ".join(f"{t.name} ({t.value_schema})" for t in inputs) or "no topic a replay can write to"
    raise ReplayError(f"stage {stage} does not read records like {source}'s ({found.value_schema}); it reads {reads}")


@dataclass(frozen=True)
class Span:
    """The offsets of one partition a replay covers: from ``start`` (included) to ``end`` (excluded)."""

    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


def resumed(spans: list[Span], resume: Mapping[int, int]) -> list[Span]:
    """The spans after an interruption: each partition from its resume offset, which must lie within its span."""
    unknown = set(resume) - {s.partition for s in spans}
    if unknown:
        raise ReplayError(f"--resume names partitions {sorted(unknown)} outside the range (partitions {[s.partition for s in spans]})")
    out = []
    for span in spans:
        at = resume.get(span.partition, span.start)
        if not span.start <= at <= span.end:
            raise ReplayError(f"--resume {span.partition}:{at} is outside that partition's range [{span.start}, {span.end})")
        out.append(Span(span.partition, at, span.end))
    return out


def parse_resume(text: str | None) -> dict[int, int]:
    """``0:120,1:98`` → {0: 120, 1: 98}; ``ReplayError`` otherwise."""
    if not text:
        return {}
    positions: dict[int, int] = {}
    for part in text.split(","):
        partition, sep, offset = part.strip().partition(":")
        if not sep or not partition.isdigit() or not offset.isdigit():
            raise ReplayError(f"--resume {text!r} is not PARTITION:OFFSET[,PARTITION:OFFSET…]")
        positions[int(partition)] = int(offset)
    return positions


class Request(BaseModel):
    """A replay as asked on the command line (what a resume command repeats)."""

    model_config = ConfigDict(frozen=True)

    topic: str
    start: str
    end: str
    into: str
    partition: int | None = None
    filters: tuple[str, ...] = ()
    force: bool = False

    def command(self, resume: Mapping[int, int], end: str | None = None) -> str:
        """The command that goes on from ``resume`` (partition → next offset), the range's end pinned to ``end``."""
        words = ["courrier", "replay", "--topic", self.topic, "--from", self.start, "--to", end or self.end, "--into", self.into]
        if self.partition is not None:
            words += ["--partition", str(self.partition)]
        for wanted in self.filters:
            words += ["--filter", wanted]
        if self.force:
            words.append("--force")
        words += ["--resume", ",".join(f"{p}:{o}" for p, o in sorted(resume.items()))]
        return shlex.join(words)


@dataclass
class Summary:
    """What a replay sent (or, dry, would send): records per (target topic, campaign, status), and those it skipped."""

    replay_id: str
    target: str
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    skipped: int = 0
    undecodable: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, value: Mapping[str, Any] | None) -> None:
        campaign = field_of(value, "campaign") if value is not None else None
        status = field_of(value, "status") if value is not None else None
        self.counts[(self.target, NONE if campaign is None else str(campaign), NONE if status is None else str(status))] += 1


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else ""
