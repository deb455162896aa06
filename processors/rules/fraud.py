"""Fraud rules: which countries an API key may send to, and SMS pumping (a burst of sends to one number range).

SMS pumping ("artificially inflated traffic"): a bot fills a sign-up or OTP form with numbers of one
premium range, and the operator of that range is paid for every message. Its marks are many sends
to one destination prefix (or one unusual country) far above that prefix's usual rate, and OTPs
that are never used. The detector here keeps, per prefix (the first ``prefix_digits`` digits of the
E.164 number) and per country:

- the sends of the last ``window_s`` seconds (a sliding window of a few buckets), every attempt
  counted, suppressed ones too (they are the attacker's rate);
- a baseline: an exponentially weighted moving average (half-life ``half_life_s``) of that window
  count, fed only with what the limit admitted, so a burst cannot teach the detector that a burst is
  normal, while a legitimate sender that grows is learned (the limit follows ``surge`` × baseline);
- per prefix, the OTP conversion ratio callers report (``conversions``): decayed counts of sends and
  of conversions; a prefix whose ratio is under ``conversion_floor`` (once ``conversion_min_sends``
  sends are counted) gets its limit multiplied by ``poor_conversion_factor``.

A message is suspected when its prefix's or its country's window count, itself included, exceeds
``max(floor, surge × baseline)`` (times the conversion factor for a prefix). Everything is pure and
takes the clock as an argument; state is bounded (``max_keys`` per kind, least recently seen
forgotten first).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "fraud.toml"
REASON = "fraud_suspected"
_BUCKETS = 6  # the window slides by a sixth of its length: coarse enough to stay small, fine enough for a minute window


class FraudConfigError(ValueError):
    """The thresholds file is missing, not TOML, or names an unknown or out-of-range threshold."""


class Thresholds(BaseModel):
    """The SMS pumping thresholds (``processors/rules/data/fraud.toml`` documents each)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lanes: tuple[str, ...] = ("TRANSACTIONAL",)
    prefix_digits: int = Field(7, ge=3, le=12)
    window_s: float = Field(60.0, gt=0, le=86_400)
    half_life_s: float = Field(3600.0, gt=0)
    surge: float = Field(5.0, ge=1)
    prefix_floor: int = Field(20, ge=1)
    country_floor: int = Field(1000, ge=1)
    conversion_half_life_s: float = Field(86_400.0, gt=0)
    conversion_min_sends: int = Field(50, ge=1)
    conversion_floor: float = Field(0.3, ge=0, le=1)
    poor_conversion_factor: float = Field(0.25, gt=0, le=1)
    max_keys: int = Field(100_000, ge=1)


def load_thresholds(path: Path | None = None) -> Thresholds:
    """The thresholds of a TOML file (the bundled one by default); ``FraudConfigError`` naming what is wrong."""
    source = path or DEFAULT_FILE
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        return Thresholds.model_validate(data)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FraudConfigError(f"cannot read fraud thresholds from {source}: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise FraudConfigError(f"{source}: {problems}") from None


def parse_countries(text: str) -> tuple[str, ...]:
    """``FR,se`` → ``("FR", "SE")``: region codes phonenumbers knows, upper-cased, sorted, once each; ``ValueError``
    naming the unknown ones, or for an empty list."""
    import phonenumbers

    codes = sorted({c.strip().upper() for c in text.split(",") if c.strip()})
    unknown = [c for c in codes if c not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ValueError(f"unknown region code{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} (ISO 3166 alpha-2, e.g. FR, SE, US)")
    if not codes:
        raise ValueError("give at least one region code, e.g. FR,SE")
    return tuple(codes)


def country_refusal(allowed: Iterable[str] | None, region: str | None) -> str | None:
    """Why a key limited to ``allowed`` countries (None or empty: any) may not send to ``region``, else None."""
    countries = sorted(set(allowed or ()))
    if not countries or region in countries:
        return None
    where = region or "a number of no country"
    return f"this API key may send to {', '.join(countries)} only, not to {where}"


def prefix_of(e164: str, digits: int) -> str:
    """The destination prefix of an E.164 number: ``+`` and its first ``digits`` digits."""
    return e164[: digits + 1]


@dataclass
class _Window:
    """One key's counts per bucket of the sliding window, its baseline and when the baseline was last fed."""

    buckets: dict[int, int]
    baseline: float
    fed_at: float


class Velocity:
    """Sliding-window send counts per key against each key's EWMA baseline (see the module docstring)."""

    def __init__(self, window_s: float, half_life_s: float, max_keys: int) -> None:
        self._bucket_s = window_s / _BUCKETS
        self._half_life_s = half_life_s
        self._max_keys = max_keys
        self._keys: OrderedDict[str, _Window] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def _window(self, key: str, t: float) -> _Window:
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = _Window({}, 0.0, t)
            if len(self._keys) > self._max_keys:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        oldest = self._bucket(t) - _BUCKETS + 1
        for stale in [b for b in found.buckets if b < oldest]:
            del found.buckets[stale]
        return found

    def _bucket(self, t: float) -> int:
        return math.floor(t / self._bucket_s)

    def baseline(self, key: str) -> float:
        window = self._keys.get(key)
        return window.baseline if window is not None else 0.0

    def add(self, key: str, t: float, limit: float) -> int:
        """Count one send at ``t``; feed the baseline with the window count capped at ``limit``; the count, this one included."""
        window = self._window(key, t)
        bucket = self._bucket(t)
        window.buckets[bucket] = window.buckets.get(bucket, 0) + 1
        current = sum(window.buckets.values())
        elapsed = max(0.0, t - window.fed_at)
        weight = 1.0 - 0.5 ** (elapsed / self._half_life_s)
        window.baseline += weight * (min(current, limit) - window.baseline)
        window.fed_at = max(window.fed_at, t)
        return current


@dataclass
class _Ratio:
    sends: float
    conversions: float
    at: float


class Conversions:
    """Decayed counts of sends and reported conversions per prefix: the OTP conversion ratio the limit listens to.

    A ratio exists only while callers report conversions at all (one heard, for any prefix, within the last half-life):
    a deployment whose callers report none must not find every prefix converting at 0 %.
    """

    def __init__(self, half_life_s: float, max_keys: int) -> None:
        self._half_life_s = half_life_s
        self._max_keys = max_keys
        self._keys: OrderedDict[str, _Ratio] = OrderedDict()
        self._heard_at: float | None = None

    def _decayed(self, key: str, t: float) -> _Ratio:
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = _Ratio(0.0, 0.0, t)
            if len(self._keys) > self._max_keys:
                self._keys.popitem(last=False)
            return found
        self._keys.move_to_end(key)
        factor = 0.5 ** (max(0.0, t - found.at) / self._half_life_s)
        found.sends, found.conversions, found.at = found.sends * factor, found.conversions * factor, max(found.at, t)
        return found

    def sent(self, key: str, t: float) -> None:
        self._decayed(key, t).sends += 1

    def converted(self, key: str, t: float) -> None:
        self._decayed(key, t).conversions += 1
        self._heard_at = t if self._heard_at is None else max(self._heard_at, t)

    def ratio(self, key: str, t: float, min_sends: int) -> float | None:
        """Conversions per send for ``key`` at ``t``; None before ``min_sends`` (decayed) sends are counted, or while no
        conversion has been heard within the last half-life."""
        found = self._keys.get(key)
        if found is None or self._heard_at is None or t - self._heard_at > self._half_life_s:
            return None
        factor = 0.5 ** (max(0.0, t - found.at) / self._half_life_s)
        sends = found.sends * factor
        return None if sends < min_sends else min(1.0, found.conversions * factor / sends)


@dataclass(frozen=True)
class Suspicion:
    """Why a message looks like SMS pumping: a sentence naming the prefix or country, its count and its limit."""

    detail: str
    reason: str = REASON


class PumpingDetector:
    """Judges each message about to leave by its prefix and country; ``conversion`` hears what callers report."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        self._prefixes = Velocity(thresholds.window_s, thresholds.half_life_s, thresholds.max_keys)
        self._countries = Velocity(thresholds.window_s, thresholds.half_life_s, thresholds.max_keys)
        self._conversions = Conversions(thresholds.conversion_half_life_s, thresholds.max_keys)

    def watches(self, lane: str) -> bool:
        return lane in self.thresholds.lanes

    def prefix_limit(self, prefix: str, t: float) -> tuple[float, float | None]:
        """The window count ``prefix`` may reach at ``t``, and its conversion ratio (None while unknown)."""
        th = self.thresholds
        limit = max(th.prefix_floor, th.surge * self._prefixes.baseline(prefix))
        ratio = self._conversions.ratio(prefix, t, th.conversion_min_sends)
        if ratio is not None and ratio < th.conversion_floor:
            limit *= th.poor_conversion_factor
        return limit, ratio

    def judge(self, e164: str, country: str | None, t: float) -> Suspicion | None:
        """Count one message to ``e164`` at ``t`` (epoch seconds) and say whether it looks like pumping."""
        th = self.thresholds
        prefix = prefix_of(e164, th.prefix_digits)
        limit, ratio = self.prefix_limit(prefix, t)
        count = self._prefixes.add(prefix, t, limit)
        self._conversions.sent(prefix, t)
        country_key = country or "none"
        country_limit = max(th.country_floor, th.surge * self._countries.baseline(country_key))
        country_count = self._countries.add(country_key, t, country_limit)
        window = f"{th.window_s:g} s"
        if count > limit:
            conversion = f"; OTP conversion {ratio:.0%} is under {th.conversion_floor:.0%}" if ratio is not None and \
                ratio < th.conversion_floor else ""
            return Suspicion(f"{count} messages to {prefix}… within {window}, over the limit of {limit:g}{conversion}")
        if country_count > country_limit:
            return Suspicion(f"{country_count} messages to {country_key} within {window}, over the limit of {country_limit:g}")
        return None

    def conversion(self, e164: str, t: float) -> None:
        """A caller reported a conversion (an OTP used) of a message to ``e164``."""
        self._conversions.converted(prefix_of(e164, self.thresholds.prefix_digits), t)
