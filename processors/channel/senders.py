"""Sender pools per region and type, and the sticky choice of one sender per recipient."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.runtime.stage import Event

DEFAULT_POOLS = Path(__file__).resolve().parent / "data" / "senders.json"

# Preference order per channel: SMS leaves from an alphanumeric id where the country allows one (two-way
# traffic needs a number, but alerts do not), else the fastest number class the pool has.
SMS_PREFERENCE = ("ALPHANUMERIC", "SHORT_CODE", "TOLL_FREE", "LONG_CODE")
MMS_PREFERENCE = ("SHORT_CODE", "TOLL_FREE", "LONG_CODE")
RCS_PREFERENCE = ("RCS_AGENT",)


@dataclass(frozen=True)
class SenderPools:
    """Senders by region then type; regions without a pool use ``default``."""

    pools: dict[str, dict[str, list[dict[str, Any]]]]

    @classmethod
    def load(cls, path: Path = DEFAULT_POOLS) -> "SenderPools":
        raw = json.loads(path.read_text())
        return cls({region: types for region, types in raw.items() if not region.startswith("_")})

    def choose(self, region: str, channel: str, recipient_e164: str) -> Event:
        """The sender for this recipient: the same one every time (stable hash), from the preferred type the region has."""
        preference = {"SMS": SMS_PREFERENCE, "MMS": MMS_PREFERENCE, "RCS": RCS_PREFERENCE}[channel]
        for pool_region in (region, "default"):
            pools = self.pools.get(pool_region) or {}
            for sender_type in preference:
                candidates = pools.get(sender_type)
                if candidates:
                    chosen = candidates[sticky_index(recipient_e164, len(candidates))]
                    return {"sender_id": chosen["sender_id"], "type": sender_type, "country": pool_region,
                            "segments_per_second": float(chosen["segments_per_second"])}
        raise LookupError(f"no {channel} sender for region {region} and none in the default pool")


def sticky_index(key: str, size: int) -> int:
    """A stable position in a pool of ``size`` (hashlib, so it survives restarts and differs from Python's salted hash())."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % size
