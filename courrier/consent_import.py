"""``courrier consent import FILE``: opt-ins and opt-outs with their evidence, from a CSV or JSON file, all or nothing.

The file is checked whole before anything is written: a bad row is named (``row 7: number: not a valid
number``; CSV rows by line, the header being line 1; JSON items from 1) and nothing is imported. A good
file is then written in one Kafka transaction, so a failure half-way (the broker gone, Ctrl-C) leaves
nothing either: consumers read committed records only. Columns and keys are the fields of
``processors.rules.consent_evidence.ConsentRecord``; a CSV's empty cell is an absent value.
"""
from __future__ import annotations

import csv
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import typer
from confluent_kafka import KafkaException, Producer
from pydantic import ValidationError

from common.config import Settings, get_settings
from common.errors import CourrierError
from common.kafka_clients import producer_config, require_broker
from processors.rules.consent_evidence import ConsentRecord, change, future, outputs, problems
from processors.runtime.placement import Placement
from processors.runtime.serde import AvroSerde

log = logging.getLogger(__name__)
FORMATS = ("csv", "json", "jsonl")
MAX_PROBLEMS_SHOWN = 20
# One transaction holds the whole file: the broker's own ceiling (transaction.max.timeout.ms, 15 min by default).
TRANSACTION_TIMEOUT_MS = 900_000


class ImportRefused(CourrierError):
    """The file cannot be imported: the message names each bad row (up to ``MAX_PROBLEMS_SHOWN``) and says nothing was written."""


@dataclass(frozen=True)
class Row:
    """One row of the file: where it is (``row 7`` / ``item 3``) and its fields as read."""

    where: str
    fields: dict[str, Any]


def file_format(path: Path, given: str | None) -> str:
    """``given``, else the file's extension (``.csv``, ``.json``, ``.jsonl``/``.ndjson``); ``ImportRefused`` otherwise."""
    found = given or {".ndjson": "jsonl"}.get(path.suffix.lower(), path.suffix.lower().lstrip("."))
    if found not in FORMATS:
        raise ImportRefused(f"{path}: say --format {'|'.join(FORMATS)} (the extension {path.suffix or '(none)'} does not tell)")
    return found


def rows(path: Path, fmt: str) -> Iterator[Row]:
    """The rows of ``path`` read lazily (a JSON array is read whole); ``ImportRefused`` for a file that cannot be read."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if fmt == "csv":
                reader = csv.DictReader(handle)
                for fields in reader:
                    extra = fields.pop(None, None)  # type: ignore[call-overload]  # cells beyond the header
                    values = {k: v for k, v in fields.items() if v not in (None, "")}
                    yield Row(f"row {reader.line_num}", {**values, **({"": extra} if extra else {})})
            elif fmt == "jsonl":
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield Row(f"line {number}", _object(json.loads(line)))
            else:
                items = json.load(handle)
                if not isinstance(items, list):
                    raise ImportRefused(f"{path}: a JSON file must hold one array of objects")
                for number, item in enumerate(items, start=1):
                    yield Row(f"item {number}", _object(item))
    except (OSError, UnicodeDecodeError, csv.Error, json.JSONDecodeError) as exc:
        raise ImportRefused(f"{path}: cannot be read: {exc}") from exc


def _object(item: Any) -> dict[str, Any]:
    # A non-object item becomes a row with one unknown field: it is then named like any other bad row.
    return item if isinstance(item, dict) else {"": item}


def check(row: Row, now: datetime, source: str | None) -> ConsentRecord | list[str]:
    """The record of ``row`` (``source`` filling a missing one), or one line per problem, each naming the row."""
    fields = {"source": source, **row.fields} if source else row.fields
    try:
        record = ConsentRecord.model_validate(fields)
    except ValidationError as exc:
        return [f"{row.where}: {field}: {message}" if field else f"{row.where}: {message}" for field, message in problems(exc)]
    too_late = future(record, now)
    return [f"{row.where}: {too_late}"] if too_late else record


def validate_file(path: Path, fmt: str, now: datetime, source: str | None) -> int:
    """How many rows ``path`` holds once every one is valid; ``ImportRefused`` listing the bad ones otherwise."""
    count, bad = 0, []
    for row in rows(path, fmt):
        count += 1
        found = check(row, now, source)
        if isinstance(found, list):
            bad.extend(found)
    if bad:
        shown = bad[:MAX_PROBLEMS_SHOWN] + ([f"… and {len(bad) - MAX_PROBLEMS_SHOWN} more"] if len(bad) > MAX_PROBLEMS_SHOWN else [])
        raise ImportRefused(f"{path}: {len(bad)} problem(s), nothing imported:\n  " + "\n  ".join(shown))
    if count == 0:
        raise ImportRefused(f"{path}: no rows")
    return count


def import_file(settings: Settings, path: Path, fmt: str, source: str | None = None, progress: bool = False) -> int:
    """Check ``path`` whole, then write every change to ``consent`` and ``consent-history`` in one transaction; the
    number of changes written. ``ImportRefused`` (nothing written) for a bad file or a transaction that failed."""
    now = datetime.now(timezone.utc)
    total = validate_file(path, fmt, now, source)
    require_broker(settings)
    serde = AvroSerde(settings.registry_url, settings.topic)
    serde.prepare(("consent", "consent-history"))
    producer = Producer(producer_config(settings, f"courrier-consent-import-{uuid.uuid4()}",
                                        **{"transaction.timeout.ms": TRANSACTION_TIMEOUT_MS}))
    placement = Placement(settings, producer)  # consent rows go to their number's partition
    recorded_by = f"import:{path.name}"
    try:
        producer.init_transactions(30)
        producer.begin_transaction()
        with _bar(progress, total) as advance:
            for row in rows(path, fmt):
                record = check(row, now, source)
                if not isinstance(record, ConsentRecord):  # every row passed validate_file: the file changed since
                    raise ImportRefused(f"{path}: changed while being imported ({record[0]}); nothing imported")
                for output in outputs(change(record, recorded_by)):
                    physical = settings.topic(output.topic)
                    _produce(producer, physical, output.key, serde.encode(output.topic, output.value),
                             placement.partition(physical, output.key))
                advance()
        producer.commit_transaction(60)
    except BaseException as exc:
        # Whatever stops the import aborts its transaction: left open, it would hold back every read-committed consumer of
        # these partitions until the broker's timeout.
        _abort(producer)
        if isinstance(exc, (KafkaException, KeyboardInterrupt)):
            raise ImportRefused(f"{path}: the transaction did not commit ({exc.__class__.__name__}: {exc}); nothing imported") from exc
        raise
    log.info("consent import written", extra={"file": path.name, "changes": total})
    return total


def _produce(producer: Producer, topic: str, key: str, value: bytes, partition: int) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value, partition=partition)
            return
        except BufferError:  # the local queue is full: let deliveries drain it
            producer.poll(0.05)


def _abort(producer: Producer) -> None:
    try:
        producer.abort_transaction(30)
    except KafkaException:
        log.warning("consent import: abort_transaction failed; the broker aborts it at its timeout")


@contextmanager
def _bar(shown: bool, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar over ``total`` rows when ``shown``; yields the function that advances it by one."""
    from rich.progress import Progress

    with Progress(disable=not shown) as bar:
        task = bar.add_task("importing consent", total=total)
        yield lambda: bar.advance(task)


def import_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV (header row) or JSON (array, or JSON lines)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="csv, json or jsonl; taken from the extension when absent."),
    source: Optional[str] = typer.Option(None, "--source", help="The source of rows that name none (form, paper, crm…)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar while writing."),
) -> None:
    """Record opt-ins and opt-outs with their evidence from FILE, all or nothing.

    Columns (CSV header) or keys (JSON): number, default_region, subscription_group, status (opted_in|opted_out),
    source, changed_at (ISO 8601 with offset), text_shown, ip_address, inbound_message_id, evidence. An opt-in needs
    text_shown and one of ip_address, inbound_message_id or evidence. The whole file is checked first: a bad row is
    named and nothing is written; a good file is written in one transaction.
    """
    count = import_file(get_settings(), file, file_format(file, fmt), source, progress)
    typer.echo(f"imported {count} consent change(s) from {file.name}")
