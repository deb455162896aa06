"""The ``campaigns`` topic: a campaign's latest state (ACTIVE, CANCELLED), written durably and read back by id.

Dispatch reads the same compacted topic before each submit, so a CANCELLED record written here stops
every message of the campaign that has not been submitted yet, wherever it is in the chain.
"""
from __future__ import annotations

from datetime import datetime, timezone

from common.config import Settings
from common.errors import CourrierError
from processors.campaigns.logic import control_record
from processors.runtime.publisher import write_now
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event
from processors.runtime.snapshot import read_row


class CampaignError(CourrierError):
    """A campaign id that cannot be used for what was asked (unknown, or already cancelled)."""


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
    write_now(settings, [record], serde=serde)
    return record.value, False
