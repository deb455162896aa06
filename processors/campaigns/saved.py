"""A campaign's settings as the ``campaigns`` record keeps them (its ``spec`` field), so a later step sends like the first.

``courrier campaign extend`` rebuilds the ``CampaignSpec`` from this text alone: template, policy, lane, group,
variants, send time, validity, region and fallback window are those the campaign started with, never retyped.
The rollout slice is not part of it: each step names its own.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from processors.campaigns.logic import CampaignSpec
from processors.campaigns.variants import Variant, VariantPlan

VERSION = 1


def dump(spec: CampaignSpec) -> str:
    """The spec as compact JSON (without its sample)."""
    fields = {name: value for name, value in asdict(spec).items() if name not in ("variants", "sample", "send_at")}
    fields["variants"] = [asdict(v) for v in spec.variants.variants] if spec.variants else None
    fields["send_at"] = spec.send_at.isoformat() if spec.send_at else None
    return json.dumps({"version": VERSION, **fields}, separators=(",", ":"), sort_keys=True)


def load(text: str) -> CampaignSpec:
    """The spec ``dump`` wrote; ``ValueError`` naming what is wrong with text it did not write."""
    try:
        data: dict[str, Any] = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the campaign's saved settings are not JSON: {exc}") from None
    if not isinstance(data, dict) or data.pop("version", None) != VERSION:
        raise ValueError(f"the campaign's saved settings are not version {VERSION} of processors/campaigns/saved.py")
    variants = data.pop("variants", None)
    send_at = data.pop("send_at", None)
    try:
        return CampaignSpec(**data, variants=VariantPlan([Variant(**v) for v in variants]) if variants else None,
                            send_at=datetime.fromisoformat(send_at) if send_at else None)
    except TypeError as exc:
        raise ValueError(f"the campaign's saved settings do not fit a campaign: {exc}") from None
