"""``courrier consent forget NUMBER``: erase a person from every compacted topic keyed by their number, keep a hash.

Which topics: every compacted topic of ``topology.topics`` whose key is the number (``E.164``) or starts
with it (``E.164|subscription group``); for the latter, the keys are found by reading the topic to its end.
Each such key gets a tombstone, and the ``suppressions`` topic an entry keyed by the salted hash of the
number (``processors.consent.suppressions``) that the consent stage checks, so the number is never
messaged again. Tombstones and the entry go in one transaction: all of it happens or none.

What cannot be erased is said, from the same declarations (``unerasable``): the records of topics that are
not compacted, or are keyed by something else, stay until their retention ends.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

import typer
from confluent_kafka import KafkaException, Producer

from common.config import Settings, get_settings
from common.errors import CourrierError
from common.kafka_clients import producer_config, require_broker
from common.logs import mask_phone
from courrier.consent_read import read_to_end
from processors.rules.consent_evidence import e164 as to_e164
from processors.consent.suppressions import entry, salt, salt_is_built_in, suppression_key
from processors.runtime.placement import Placement
from processors.runtime.serde import AvroSerde
from topology.partitioning import row_partition
from topology.topics import DAY_MS, TOPICS, Topic

log = logging.getLogger(__name__)
NUMBER_KEY = "E.164"
SUPPRESSIONS = "suppressions"


def erasable() -> tuple[Topic, ...]:
    """The compacted topics keyed by a number (``E.164``) or by a number and more (``E.164|…``)."""
    return tuple(t for t in TOPICS if t.compacted and t.key.split("|")[0].strip() == NUMBER_KEY)


def unerasable() -> tuple[Topic, ...]:
    """The topics a tombstone cannot clear: not compacted, or keyed by something else than the number."""
    kept = {t.name for t in erasable()} | {SUPPRESSIONS}
    return tuple(t for t in TOPICS if t.name not in kept and t.value_schema is not None)


def retention(t: Topic) -> str:
    """How long ``t`` keeps a record, in words."""
    return "forever" if t.retention_ms < 0 else f"{t.retention_ms / DAY_MS:g} days"


def unerasable_text() -> str:
    """Every topic a forget leaves as it is, grouped by retention, longest first (``forever: a, b; 30 days: c``)."""
    groups: dict[str, list[str]] = {}
    for t in sorted(unerasable(), key=lambda t: float("inf") if t.retention_ms < 0 else t.retention_ms, reverse=True):
        groups.setdefault(retention(t), []).append(t.name)
    return "; ".join(f"{kept}: {', '.join(names)}" for kept, names in groups.items())


@dataclass(frozen=True)
class Erased:
    """What a forget wrote: the tombstoned keys per topic and the suppression key."""

    tombstones: dict[str, list[str]]
    suppression: str


def keys_of(settings: Settings, t: Topic, e164: str, timeout_s: float) -> list[str]:
    """The keys of ``t`` that belong to ``e164``: the number itself, or every ``e164|…`` key the topic holds."""
    if t.key.strip() == NUMBER_KEY:
        return [e164]
    prefix = f"{e164}|"
    found: dict[str, None] = {}
    # A by_number topic holds every row of the number on the number's partition: that one is enough to read.
    only = (lambda count: row_partition(t.name, e164, count)) if t.by_number else None
    for key, _value in read_to_end(settings, settings.topic(t.name), timeout_s, only):
        text = key.decode("utf-8", "replace") if key is not None else ""
        if text.startswith(prefix):
            found[text] = None
    return list(found)


def forget(settings: Settings, e164: str, recorded_by: str | None, timeout_s: float = 60.0) -> Erased:
    """Tombstone every key of ``e164`` in the erasable topics and write its suppression entry, in one transaction."""
    require_broker(settings)
    tombstones = {t.name: keys_of(settings, t, e164, timeout_s) for t in erasable()}
    key = suppression_key(salt(settings), e164)
    serde = AvroSerde(settings.registry_url, settings.topic)
    value = serde.encode(SUPPRESSIONS, entry(datetime.now(timezone.utc), recorded_by))
    producer = Producer(producer_config(settings, f"courrier-consent-forget-{uuid.uuid4()}"))
    placement = Placement(settings, producer)  # a tombstone must land on its row's partition to delete it
    try:
        producer.init_transactions(30)
        producer.begin_transaction()
        for name, keys in tombstones.items():
            physical = settings.topic(name)
            for row in keys:
                producer.produce(physical, key=row, value=None, partition=placement.partition(physical, row))
        producer.produce(settings.topic(SUPPRESSIONS), key=key, value=value)
        producer.commit_transaction(60)
    except BaseException as exc:
        # Aborted whatever stopped it: an open transaction holds back read-committed consumers until the broker's timeout.
        try:
            producer.abort_transaction(30)
        except KafkaException:
            pass  # the broker aborts it at its timeout
        if isinstance(exc, KafkaException):
            raise CourrierError(f"forget did not commit ({exc}); nothing was erased, try again") from exc
        raise
    return Erased(tombstones, key)


def forget_command(
    number: str = typer.Argument(..., help="The person's number (E.164, e.g. +33612345678)."),
    recorded_by: Optional[str] = typer.Option(None, "--by", help="Who asked (an operator, a ticket id), kept on the suppression "
                                              "entry; never a number."),
    timeout_s: float = typer.Option(60.0, "--timeout", min=1, help="Give up reading a topic after this many seconds."),
) -> None:
    try:
        e164 = to_e164(number, None)
    except ValueError as exc:
        raise CourrierError(f"NUMBER: {exc}") from None
    settings = get_settings()
    if salt_is_built_in(settings):
        typer.echo("warning: COURRIER_SUPPRESSION_SALT is unset: the suppression key uses the built-in salt; set a secret "
                   "one before the first forget and never change it", err=True)
    done = forget(settings, e164, recorded_by, timeout_s)
    counts = ", ".join(f"{name}: {len(keys)}" for name, keys in done.tombstones.items())
    masked = mask_phone(e164)
    log.info("number erased on request", extra={"number": masked, "tombstones": counts})
    typer.echo(f"{masked} erased: tombstones {counts}; suppression entry written (never messaged again)")
    typer.echo(f"kept until their retention ends: {unerasable_text()}")


forget_command.__doc__ = f"""Erase NUMBER from every compacted topic keyed by it ({", ".join(t.name for t in erasable())}:
tombstones) and keep only a salted hash of it in `suppressions`, which the consent stage checks: the number is never
messaged again, on any lane.

Cannot be erased: the records of topics that are not compacted or are keyed by something else stay until their
retention ends (they may hold the number) — {unerasable_text()}. consent-history is the proof of consent and opt-out,
kept for legal claims."""
