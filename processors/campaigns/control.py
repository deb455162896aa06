"""The ``campaigns`` topic: a campaign's latest state (ACTIVE, CANCELLED), written durably and read back by id.

Dispatch reads the same compacted topic before each submit, so a CANCELLED record written here stops
every message of the campaign that has not been submitted yet, wherever it is in the chain.
"""
from __future__ import annotations

from datetime import datetime, timezone

from confluent_kafka import Producer

from common.config import Settings
from common.errors import CourrierError, UnreachableError
from common.kafka_clients import producer_config
from processors.campaigns.logic import control_record
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, Output
from processors.runtime.table import read_row

WRITE_TIMEOUT_S = 30.0


class CampaignError(CourrierError):
    """A campaign id that cannot be used for what was asked (unknown, or already cancelled)."""


def write_now(producer: Producer, settings: Settings, serde: AvroSerde, output: Output, timeout_s: float = WRITE_TIMEOUT_S) -> None:
    """Produce one record and wait for the broker's acknowledgement; ``UnreachableError`` when it does not come."""
    errors: list[str] = []
    producer.produce(settings.topic(output.topic), key=output.key, value=serde.encode(output.topic, output.value),
                     on_delivery=lambda error, _message: errors.append(str(error)) if error is not None else None)
    if producer.flush(timeout_s) or errors:
        reason = errors[0] if errors else f"no acknowledgement within {timeout_s:.0f}s"
        raise UnreachableError(f"could not write to {settings.topic(output.topic)} on {settings.bootstrap_servers}: {reason}; "
                               "run `courrier infra up kafka` or set KAFKA_BOOTSTRAP_SERVERS")


def cancel_campaign(settings: Settings, campaign_id: str, changed_by: str | None) -> tuple[Event, bool]:
    """Write CANCELLED for a known campaign, keeping what its record said; returns the record and whether it was already so."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    current = read_row(settings, "campaigns", campaign_id, serde)
    if current is None:
        raise CampaignError(f"no campaign {campaign_id!r} in {settings.topic('campaigns')}")
    if current["state"] == "CANCELLED":
        return current, True
    record = control_record(campaign_id, "CANCELLED", datetime.now(timezone.utc), template_id=current.get("template_id"),
                            audience=current.get("audience"), variants=current.get("variants"), changed_by=changed_by,
                            rollout_percent=current.get("rollout_percent"), spec=current.get("spec"))
    producer = Producer(producer_config(settings, **{"client.id": "courrier-campaign"}))
    write_now(producer, settings, serde, record)
    return record.value, False
