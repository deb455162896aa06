"""Sender pools per country and type, and the sticky choice of one sender per recipient."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from processors.runtime.stage import Event

DEFAULT_POOLS = Path(__file__).resolve().parent / "data" / "senders.json"
DEFAULT_REGION = "default"
SENDER_TYPES = frozenset({"SHORT_CODE", "LONG_CODE", "TOLL_FREE", "ALPHANUMERIC", "RCS_AGENT"})

# Sender types each channel may leave from, best first. SMS takes an alphanumeric id where the country
# has one (recipients see the brand), else the fastest number class. MMS goes over long codes only.
PREFERENCE = {
    "SMS": ("ALPHANUMERIC", "SHORT_CODE", "TOLL_FREE", "LONG_CODE"),
    "MMS": ("LONG_CODE",),
    "RCS": ("RCS_AGENT",),
}
# Carriers allow one MMS per second from a long code, whatever its SMS throughput class.
MMS_SEGMENTS_PER_SECOND = 1.0


class NoSender(LookupError):
    """No pooled sender may reach the recipient on that channel."""


@dataclass(frozen=True)
class PooledSender:
    """One sender of a pool and its SMS throughput class."""

    sender_id: str
    segments_per_second: float


@dataclass(frozen=True)
class SenderPools:
    """Senders by region, then type; a region without a sender of the wanted types uses the ``default`` pool."""

    pools: Mapping[str, Mapping[str, tuple[PooledSender, ...]]]

    @classmethod
    def load(cls, path: Path = DEFAULT_POOLS) -> "SenderPools":
        """Pools from a JSON file ``{region: {type: [{sender_id, segments_per_second}]}}``; keys starting with ``_`` are comments."""
        return cls.from_mapping(json.loads(path.read_text(encoding="utf-8")), str(path))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str = "senders") -> "SenderPools":
        """Pools from the same shape already read (the configuration file's ``[senders]``); ``where`` names it in errors."""
        return cls({region: _pool(f"{where}: {region}", types) for region, types in raw.items() if not region.startswith("_")})

    def choose(self, region: str, channel: str, recipient_e164: str, allowed: Callable[[str], bool] = lambda _type: True) -> Event:
        """The ``Sender`` record for this recipient on this channel: the same one every time the pool is unchanged.

        ``allowed(sender_type)``: whether the recipient's country lets that type reach it; ``NoSender`` when senders are
        pooled but the country refuses every one of their types, ``LookupError`` when none is pooled at all."""
        refused: list[str] = []
        for pool_region in (region, DEFAULT_REGION):
            pool = self.pools.get(pool_region, {})
            for sender_type in PREFERENCE[channel]:
                candidates = pool.get(sender_type)
                if candidates and not allowed(sender_type):
                    refused.append(sender_type)
                    continue
                if candidates:
                    chosen = sticky(recipient_e164, candidates)
                    rate = MMS_SEGMENTS_PER_SECOND if channel == "MMS" else chosen.segments_per_second
                    return {"sender_id": chosen.sender_id, "type": sender_type, "country": region, "segments_per_second": rate}
        if refused:
            raise NoSender(f"{region} refuses the {channel} sender types pooled for it ({', '.join(sorted(set(refused)))}); pool a "
                           f"sender of a type it allows for {region} or in the {DEFAULT_REGION!r} pool")
        raise LookupError(f"no {channel} sender for region {region} and none in the {DEFAULT_REGION!r} pool")


def sticky(recipient_e164: str, candidates: tuple[PooledSender, ...]) -> PooledSender:
    """Rendezvous hashing: each recipient keeps its sender when the pool grows, except the ~1/n that move to the new one.

    The hash is hashlib's, stable across processes and restarts (Python's ``hash()`` is salted per process).
    """
    return max(candidates, key=lambda s: hashlib.blake2b(f"{recipient_e164}|{s.sender_id}".encode(), digest_size=8).digest())


def _pool(where: str, types: Mapping[str, Any]) -> dict[str, tuple[PooledSender, ...]]:
    unknown = set(types) - SENDER_TYPES
    if unknown:
        raise ValueError(f"{where}: unknown sender types {sorted(unknown)}; use {sorted(SENDER_TYPES)}")
    pool = {sender_type: tuple(PooledSender(str(s["sender_id"]), float(s["segments_per_second"])) for s in senders)
            for sender_type, senders in types.items()}
    slow = [s.sender_id for senders in pool.values() for s in senders if s.segments_per_second <= 0]
    if slow:
        raise ValueError(f"{where}: segments_per_second must be positive for {slow}")
    return pool
