"""A recipient's consent history: every ``ConsentChange`` for one number, oldest first (``courrier consent history``).

The compacted ``consent`` topic keeps only the latest change per ``E164|group``, so the history is read
from ``consent-history`` (every change, kept forever), merged with what ``consent`` still holds (changes
written by producers that do not write the history yet). A change seen twice (a replay, or in both
topics) is shown once.
"""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Iterable, Optional

import typer
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from courrier.config import Settings, get_settings
from processors.keywords.logic import sender_e164
from processors.runtime.clients import consumer_config, require_broker
from processors.runtime.errors import UnreachableError
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event

SOURCES = ("consent-history", "consent")
FIELDS = ("changed_at", "subscription_group", "status", "basis", "source", "evidence")

app = typer.Typer(no_args_is_help=True, help="A recipient's consent: when and how they opted in or out.")


@app.callback()
def consent() -> None:
    """A recipient's consent: when and how they opted in or out (a group of commands, even with one in it)."""


def history(changes: Iterable[Event], e164: str, group: str | None = None) -> list[Event]:
    """The changes of ``e164`` (of ``group`` only, when given), each once, oldest first; order of arrival breaks ties."""
    seen: dict[tuple[object, ...], Event] = {}
    for change in changes:
        if change["e164"] != e164 or (group is not None and change["subscription_group"] != group):
            continue
        seen.setdefault(tuple(change.get(name) for name in FIELDS), change)
    return sorted(seen.values(), key=lambda change: change["changed_at"])


def read_changes(settings: Settings, e164: str, timeout_s: float = 30.0) -> list[Event]:
    """Every change keyed for ``e164`` in ``consent-history`` then ``consent``, read from the beginning to the end they
    had when reading started; ``UnreachableError`` when that end is not reached within ``timeout_s``."""
    require_broker(settings)
    serde = AvroSerde(settings.registry_url, settings.topic)
    keys = {"consent-history": lambda key: key == e164, "consent": lambda key: key.startswith(f"{e164}|")}
    changes: list[Event] = []
    for logical in SOURCES:
        for key, value in _read_to_end(settings, settings.topic(logical), timeout_s):
            if value is not None and key is not None and keys[logical](key.decode("utf-8", "replace")):
                changes.append(serde.decode(logical, value))
    return changes


def _read_to_end(settings: Settings, physical: str, timeout_s: float) -> Iterable[tuple[bytes | None, bytes | None]]:
    consumer = Consumer(consumer_config(settings, f"courrier-consent-history-{uuid.uuid4()}"))
    try:
        metadata = consumer.list_topics(physical, timeout=10).topics.get(physical)
        if metadata is None or metadata.error:
            return
        ends = {p: consumer.get_watermark_offsets(TopicPartition(physical, p), timeout=10)[1] for p in metadata.partitions}
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(physical, p, OFFSET_BEGINNING) for p in pending])
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise UnreachableError(f"{physical} was not read to its end within {timeout_s:.0f}s from {settings.bootstrap_servers}")
            for message in consumer.consume(500, 0.2):
                if message.error() is None:
                    yield message.key(), message.value()
            # Positions, not the last offset read: transaction markers take offsets no message has.
            done = consumer.position([TopicPartition(physical, p) for p in pending])
            pending -= {tp.partition for tp in done if tp.offset >= ends[tp.partition]}
    finally:
        consumer.close()


def as_json(change: Event) -> dict[str, object]:
    """A change as a JSON object; ``changed_at`` in ISO 8601 and the evidence parsed when it is JSON."""
    row: dict[str, object] = {name: change.get(name) for name in ("e164", *FIELDS)}
    row["changed_at"] = change["changed_at"].isoformat()
    evidence = change.get("evidence")
    if evidence:
        try:
            row["evidence"] = json.loads(evidence)
        except ValueError:
            pass  # free text (a form id, a file name) stays a string
    return row


@app.command("history")
def history_command(
    number: str = typer.Argument(..., help="The recipient's number in E.164 form, e.g. +33612345678."),
    group: Optional[str] = typer.Option(None, "--group", help="Only this subscription group."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON array."),
    timeout_s: float = typer.Option(30.0, "--timeout", min=1, help="Give up reading after this many seconds."),
) -> None:
    """Every consent change of NUMBER, oldest first: when, which group, opted in or out, how, and the evidence."""
    e164, _region = sender_e164(number)
    changes = history(read_changes(get_settings(), e164, timeout_s), e164, group)
    if json_output:
        typer.echo(json.dumps([as_json(change) for change in changes], ensure_ascii=False))
        return
    if not changes:
        typer.echo(f"no consent change recorded for {e164}" + (f" in group {group}" if group else ""))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"consent history of {e164}")
    for name in FIELDS:
        table.add_column(name)
    for change in changes:
        table.add_row(*(_cell(change.get(name)) for name in FIELDS))
    Console().print(table)


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return "-" if value is None else str(value)
