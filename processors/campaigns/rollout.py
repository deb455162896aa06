"""Progressive rollout: a campaign sent to a deterministic N % of its audience first, then extended to more of it.

Each recipient of a campaign has a fixed place in ``[0, 100)`` percent: the first 8 bytes of SHA-256 over the
campaign id and the recipient's key (its E.164 number, else the text as given), scaled to the range. A rollout to
N % sends the recipients placed below N; an extension to M % sends those placed in ``[N, M)``, so a recipient is in
exactly one slice whatever order the steps come in, and the sample is the same on every machine and every run.

The slice is the guarantee against a second message: the message ids of a campaign (``logic.message_id``) do not
change either, so a row sent again (the audience re-read) has the id and content consent has already claimed and
dispatch's ledger has already submitted — but those claims last only the idempotency window (24 h), and an
extension comes days later; never sending a row outside its slice is what holds across that.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

FULL = 100.0
# 2**64 places: far finer than any percentage anyone types, so N % of a large audience is N % of it within sampling noise.
_SCALE = float(2**64)


class RolloutError(ValueError):
    """A percentage or a step that cannot be applied (out of range, or not beyond what was already sent)."""


def place(campaign_id: str, recipient_key: str) -> float:
    """The recipient's fixed place in ``[0, 100)`` for this campaign."""
    digest = hashlib.sha256(f"{campaign_id}\x1f{recipient_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE * FULL


def percent(value: float) -> float:
    """A percentage as given on the command line: above 0 and at most 100; ``RolloutError`` otherwise."""
    if math.isnan(value) or not 0 < value <= FULL:
        raise RolloutError(f"a percentage must be above 0 and at most 100, not {value:g}")
    return float(value)


@dataclass(frozen=True)
class Slice:
    """The recipients placed in ``[low, high)`` percent (``high`` 100 takes everyone left)."""

    low: float
    high: float

    def holds(self, campaign_id: str, recipient_key: str) -> bool:
        return self.low <= place(campaign_id, recipient_key) < self.high

    @property
    def whole(self) -> bool:
        return self.low == 0 and self.high >= FULL


def first(to: float) -> Slice:
    """The first step of a rollout: the recipients placed below ``to`` percent."""
    return Slice(0.0, percent(to))


def extension(sent: float, to: float) -> Slice:
    """The step from ``sent`` % (already sent) to ``to`` %: ``RolloutError`` unless ``to`` goes beyond ``sent``."""
    to = percent(to)
    if sent >= FULL:
        raise RolloutError("the campaign already went to 100 % of its audience; there is nobody left to extend it to")
    if to <= sent:
        raise RolloutError(f"the campaign already went to {sent:g} %; extend it to more than that (or --rest)")
    return Slice(sent, to)
