"""A/B variants: weighted, and assigned from (campaign, recipient) alone so a replay assigns the same variant.

A recipient's bucket is a hash of the campaign id and the recipient mapped onto [0, 1); the variants
split that interval in proportion to their weights, in the order given. Nothing random, nothing
stored: the same campaign and recipient land in the same variant on every run and every machine.
"""
from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

# The API's lower-case channel policies and their Avro ``ChannelPolicy`` symbols.
POLICIES: dict[str, str] = {"rcs_with_sms_fallback": "RCS_WITH_SMS_FALLBACK", "rcs_only": "RCS_ONLY", "sms": "SMS", "mms": "MMS"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SCALE = float(2**64)


class VariantError(ValueError):
    """A variant specification or a set of variants that cannot be used; the message names the problem."""


@dataclass(frozen=True)
class Variant:
    """One arm of an A/B test: its name, its weight and, optionally, its own channel policy (Avro symbol) and template."""

    name: str
    weight: float
    policy: str | None = None
    template_id: str | None = None


def parse_variant(spec: str) -> Variant:
    """``NAME=WEIGHT[:POLICY][:template=ID]``, e.g. ``B=30:rcs_with_sms_fallback:template=promo_b``."""
    name, equals, rest = spec.partition("=")
    name = name.strip()
    if not equals or not NAME.fullmatch(name):
        raise VariantError(f"variant {spec!r} must look like NAME=WEIGHT[:policy][:template=ID] with a name of letters, digits, _ . -")
    weight_text, *options = rest.split(":")
    try:
        weight = float(weight_text)
    except ValueError:
        raise VariantError(f"variant {name!r}: weight {weight_text!r} is not a number") from None
    if not math.isfinite(weight) or weight <= 0:
        raise VariantError(f"variant {name!r}: weight must be a positive number, not {weight_text!r}")
    policy: str | None = None
    template_id: str | None = None
    for option in (o.strip() for o in options):
        key, _, value = option.rpartition("=")
        if key == "template" and value:
            template_id = value
        elif key in ("", "policy") and value.lower() in POLICIES:
            policy = POLICIES[value.lower()]
        else:
            raise VariantError(f"variant {name!r}: {option!r} is neither a policy ({', '.join(POLICIES)}) nor template=ID")
    return Variant(name, weight, policy, template_id)


def bucket(campaign_id: str, recipient_key: str) -> float:
    """A point of [0, 1) fixed by the campaign and the recipient (the first 64 bits of a BLAKE2b hash)."""
    digest = hashlib.blake2b(f"variant\x1f{campaign_id}\x1f{recipient_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


class VariantPlan:
    """Variants with their share of [0, 1): ``pick`` maps a bucket to the variant whose share contains it."""

    def __init__(self, variants: Sequence[Variant]) -> None:
        """``VariantError`` for no variants or a repeated name; weights are relative (they need not add up to 100)."""
        if not variants:
            raise VariantError("give at least one variant")
        names = [v.name for v in variants]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise VariantError(f"variant names must differ: {', '.join(repeated)} given twice")
        total = math.fsum(v.weight for v in variants)
        self.variants = tuple(variants)
        bounds, running = [], 0.0
        for variant in variants:
            running += variant.weight
            bounds.append(running / total)
        bounds[-1] = 1.0  # so rounding can never leave a bucket past the last bound
        self._bounds = bounds

    def share(self, name: str) -> float:
        """The fraction of recipients ``name`` receives."""
        total = math.fsum(v.weight for v in self.variants)
        return next(v.weight for v in self.variants if v.name == name) / total

    def pick(self, point: float) -> Variant:
        """The variant whose share of [0, 1) contains ``point``."""
        return self.variants[bisect.bisect_right(self._bounds, point)]

    def assign(self, campaign_id: str, recipient_key: str) -> Variant:
        """The variant of ``recipient_key`` in ``campaign_id``: the same on every run."""
        return self.pick(bucket(campaign_id, recipient_key))

    def weights(self) -> dict[str, float]:
        """Name → weight, as the ``campaigns`` record keeps them."""
        return {v.name: v.weight for v in self.variants}
