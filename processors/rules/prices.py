"""Prices, as receipts bill them and the studio estimates them: per channel and region, in millionths of a currency."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

DEFAULT_PRICES = Path(__file__).resolve().parent / "data" / "prices.json"


def load_prices(path: Path = DEFAULT_PRICES) -> dict[str, Any]:
    """Prices per channel and region, in millionths of ``currency``."""
    return json.loads(path.read_text(encoding="utf-8"))


def cost_micros(channel: str, region: str, segments: int, prices: Mapping[str, Any]) -> int | None:
    """What a message costs: per segment on SMS, per message on MMS and RCS; ``None`` without a price."""
    table = prices.get(channel) or {}
    unit = table.get(region, table.get("default"))
    return None if unit is None else int(unit) * (segments if channel == "SMS" else 1)
