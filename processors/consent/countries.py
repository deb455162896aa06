"""Country rules beyond the hour: sender types, registration, the opt-out footer, marketing limits, and each rule's source.

They live in the same data files as the quiet hours (``data/countries*.toml``, one table per
ISO 3166-1 country or ISO 3166-2 subdivision such as ``US-FL``), so a country's rules are read in
one place with the source and the date they were checked. ``quiet_hours`` reads the time keys, this
module the others:

- ``senders``: per sender type (``alphanumeric``, ``long_code``, ``short_code``, ``toll_free``)
  ``"yes"``, ``"registration"`` (allowed once registered with the carriers or regulator) or ``"no"``;
- ``opt_out_footer``: ``"required"`` when the law or the carriers want opt-out instructions in every
  marketing message, ``"recommended"``, or ``"none"``;
- ``marketing_limit``: at most ``max_messages`` marketing messages per recipient and subject
  (subscription group) within ``window_hours``; the consent stage defers the next one, never drops it;
- ``source`` and ``checked``: where each rule comes from, ``unverified`` where it could not be confirmed (a
  table without one reads as unverified).

A subdivision's table inherits its country's for every key it leaves out. Which subdivision a number
is in comes from its area code (phonenumbers' geocoder, as a table: ``us_area_codes``): state laws such as Florida's presume that a
number with the state's area code belongs to a resident.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Mapping

from processors.consent import us_area_codes
from processors.consent.quiet_hours import DEFAULT_FILE, PROFILE_KEYS, QuietHoursError, country_of, read_tables

SENDER_TYPES = ("alphanumeric", "long_code", "short_code", "toll_free")
SENDER_STATUSES = frozenset({"yes", "registration", "no"})
FOOTERS = frozenset({"required", "recommended", "none"})


@dataclass(frozen=True)
class Limit:
    """At most ``max_messages`` marketing messages per recipient and subject within ``window``."""

    max_messages: int
    window: timedelta


@dataclass(frozen=True)
class Country:
    """One country's (or subdivision's) rules other than its hours, with their source."""

    region: str
    name: str
    senders: Mapping[str, str]
    registration: str
    opt_out_footer: str
    limit: Limit | None
    source: str
    checked: date | None

    def sender_allowed(self, sender_type: str) -> bool:
        """Whether a sender of this type may reach the country (registered where ``registration`` says so)."""
        return self.senders.get(sender_type, "yes") != "no"


UNKNOWN = Country("ZZ", "default", {}, "", "recommended", None, "no rule of its own: the default", None)


@dataclass(frozen=True)
class Countries:
    """Every country and subdivision the data names."""

    countries: Mapping[str, Country]

    def get(self, region: str) -> Country:
        """The region's rules, else its country's, else ``UNKNOWN`` (no sender limits, footer recommended)."""
        return self.countries.get(region) or self.countries.get(country_of(region), UNKNOWN)

    def allows(self, region: str, sender_type: str) -> bool:
        """Whether a sender of a pool's type (``ALPHANUMERIC``, ``LONG_CODE``, ``SHORT_CODE``, ``TOLL_FREE``; an RCS agent
        is not a number and is not ruled here) may reach the region's numbers: not where its ``senders`` say ``no``."""
        return sender_type.lower() not in SENDER_TYPES or self.get(region).sender_allowed(sender_type.lower())

    def subdivisions(self, country: str) -> frozenset[str]:
        """The ISO 3166-2 codes (``FL``) of the country's subdivisions that have rules of their own."""
        return self._subdivisions.get(country, frozenset())

    @cached_property
    def _subdivisions(self) -> dict[str, frozenset[str]]:
        # Asked for every marketing message: the keys are scanned once (the profile showed the scan per call).
        found: dict[str, set[str]] = {}
        for key in self.countries:
            country, _, subdivision = key.partition("-")
            if subdivision:
                found.setdefault(country, set()).add(subdivision)
        return {country: frozenset(codes) for country, codes in found.items()}


def load_countries(path: Path | None = None) -> Countries:
    """The profile keys of every table of a rules file or folder; ``QuietHoursError`` naming what is wrong."""
    source = path or DEFAULT_FILE
    tables = {region.upper(): table for region, table in read_tables(source)["countries"].items()}
    found: dict[str, Country] = {}
    for region in sorted(tables, key=lambda r: ("-" in r, r)):  # countries first: subdivisions inherit from them
        table = tables[region]
        parent = found.get(country_of(region)) if "-" in region else None
        found[region] = _country(region, {k: v for k, v in table.items() if k in PROFILE_KEYS}, parent, f"{source}: countries.{region}")
    return Countries(found)


@lru_cache(maxsize=1)
def bundled_countries() -> Countries:
    """The rules shipped in ``data/countries*.toml``."""
    return load_countries()


def _country(region: str, table: Mapping[str, Any], parent: Country | None, where: str) -> Country:
    senders = dict(parent.senders if parent else {})
    for kind, status in (table.get("senders") or {}).items():
        if kind not in SENDER_TYPES or status not in SENDER_STATUSES:
            raise QuietHoursError(f"{where}: senders.{kind} = {status!r}: types are {SENDER_TYPES}, statuses {sorted(SENDER_STATUSES)}")
        senders[kind] = status
    footer = table.get("opt_out_footer", parent.opt_out_footer if parent else "recommended")
    if footer not in FOOTERS:
        raise QuietHoursError(f"{where}: opt_out_footer must be one of {sorted(FOOTERS)}, not {footer!r}")
    limit = parent.limit if parent else None
    if "marketing_limit" in table:
        spec = table["marketing_limit"]
        try:
            limit = Limit(int(spec["max_messages"]), timedelta(hours=float(spec["window_hours"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise QuietHoursError(f"{where}: marketing_limit needs max_messages and window_hours ({exc})") from None
        if limit.max_messages < 1 or not timedelta(0) < limit.window <= timedelta(days=7):
            raise QuietHoursError(f"{where}: marketing_limit must allow at least 1 message within at most 168 hours")
    # A file written before sources were kept (a COURRIER_QUIET_HOURS_FILE of hours only) still loads; the bundled files
    # cite one for every table (their tests check it).
    source = str(table.get("source") or (parent.source if parent else "unverified: the rules file gives no source"))
    checked = table.get("checked")
    if checked is not None and not isinstance(checked, date):
        raise QuietHoursError(f"{where}: checked must be a date (2026-12-07), not {checked!r}")
    return Country(region, str(table.get("name", parent.name if parent else region)), senders,
                   str(table.get("registration", parent.registration if parent else "")), footer, limit,
                   source, checked)


def subdivision(e164: str, region: str, with_rules: frozenset[str]) -> str:
    """``US-FL`` for a Florida number when ``FL`` is among the subdivisions ``with_rules``, else ``region``."""
    if not with_rules:
        return region
    code = _subdivision_of_prefix(e164[:5], region)  # +1NPA: the area code decides
    return f"{region}-{code}" if code in with_rules else region


def _subdivision_of_prefix(prefix: str, region: str) -> str | None:
    return us_area_codes.state_of(prefix[2:5]) if region == "US" else None
