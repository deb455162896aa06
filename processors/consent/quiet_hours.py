"""Quiet hours: when a marketing message may reach its recipient, in the recipient's local time, by country rule.

The rules are data (the bundled ``data/countries*.toml`` files, or the file or folder of ``*.toml``
files ``COURRIER_QUIET_HOURS_FILE`` names): per country (ISO 3166-1, or ISO 3166-2 such as ``US-FL``
for a state stricter than its country) a local window, other windows on some weekdays, closed
weekdays, public holidays (the ``holidays`` package, a subdivision's own included) and optionally the
one zone to judge its numbers in. A subdivision without a rule of its own gets its country's, a
country without one the default. The same files hold each country's sender, footer and limit rules
(``countries.py`` reads those; this module ignores them). A recipient can have several candidate
zones (a US number whose area code spans two, a Russian mobile): an instant is allowed only when it
is allowed in every one of them, so the answer errs on the side of the recipient. ``next_allowed``
is a pure function of the instant, the rule and the zones.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

from processors.rules.zones import valid_zone

import holidays

DATA = Path(__file__).resolve().parent / "data"
# The bundled rules: countries.toml (the default and the keys' description) and countries_<area>.toml.
DEFAULT_FILE = DATA / "countries.toml"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# No rule closes a recipient for weeks in a row: a search that finds no opening this far ahead means the data is wrong.
SEARCH_DAYS = 31


class QuietHoursError(ValueError):
    """The rules are malformed, or a recipient's zones never share an allowed instant."""


# Keys of a country's table that are not about time: countries.py validates them.
PROFILE_KEYS = frozenset({"name", "senders", "registration", "opt_out_footer", "marketing_limit", "source", "checked"})


@dataclass(frozen=True)
class Rule:
    """One country's allowed local window: ``start`` ≤ local time < ``end``, on days not closed.

    ``windows`` replaces the window on some weekdays: ``(weekday, start, end)``, Monday 0.
    """

    start: time
    end: time
    closed_days: frozenset[int] = frozenset()
    public_holidays: bool = False
    time_zone: str | None = None
    windows: tuple[tuple[int, time, time], ...] = ()

    def window(self, weekday: int) -> tuple[time, time]:
        """The local window of a weekday that is not closed."""
        for day, start, end in self.windows:
            if day == weekday:
                return start, end
        return self.start, self.end


def country_of(region: str) -> str:
    """``US`` for ``US-FL``: the ISO 3166-1 part of a region key."""
    return region.split("-", 1)[0]


@dataclass(frozen=True)
class QuietHours:
    """The rules of every country named in the data, and the default for the others."""

    default: Rule
    countries: Mapping[str, Rule] = field(default_factory=dict)

    def rule(self, region: str) -> Rule:
        """The region's rule, else its country's (a state without one), else the default."""
        return self.countries.get(region) or self.countries.get(country_of(region), self.default)

    def subdivisions(self, country: str) -> frozenset[str]:
        """The ISO 3166-2 codes (``FL``) of the country's subdivisions that have a rule of their own."""
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

    def zones(self, region: str, number_zones: Sequence[str], given: str | None = None) -> tuple[str, ...]:
        """The zones a recipient is judged in: the one the request gives, else the country's, else the number's.

        The number's zones (phonenumbers) are narrowed to the region's own zones when they include
        any: phonenumbers answers every zone of +1 for Caribbean numbers it cannot place.
        """
        if given:
            return (given,)
        chosen = self.rule(region).time_zone
        if chosen:
            return (chosen,)
        country = country_of(region)
        own = [zone for zone in number_zones if zone in region_zones(country)]
        return tuple(own or number_zones) or tuple(sorted(region_zones(country))) or ("UTC",)


def is_allowed(instant: datetime, region: str, zones: Sequence[str], rules: QuietHours | None = None) -> bool:
    """Whether a marketing message may reach the recipient at ``instant`` (timezone-aware) in every one of ``zones``."""
    rule = (rules or bundled()).rule(region)
    return all(_open_at(instant, rule, region, zone) for zone in zones)


def next_allowed(now: datetime, region: str, zones: str | Sequence[str], rules: QuietHours | None = None) -> datetime:
    """``now`` when it is allowed in every zone, else the earliest later instant that is (UTC).

    Raises ``QuietHoursError`` when the zones share no allowed instant within ``SEARCH_DAYS``.
    """
    if now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, not {now!r}")
    candidates = (zones,) if isinstance(zones, str) else tuple(zones)
    rule = (rules or bundled()).rule(region)
    instant = now.astimezone(timezone.utc)
    limit = instant + timedelta(days=SEARCH_DAYS)
    while instant <= limit:
        # Jump to the latest of the zones' next openings; stop when that instant is open everywhere.
        opening = max(_next_open(instant, rule, region, ZoneInfo(zone)) for zone in candidates)
        if opening == instant:
            return instant
        instant = opening
    raise QuietHoursError(f"no instant within {SEARCH_DAYS} days is allowed in every zone of {', '.join(candidates)} ({region} rule)")


def _open_at(instant: datetime, rule: Rule, region: str, zone: str) -> bool:
    local = instant.astimezone(ZoneInfo(zone))
    start, end = rule.window(local.weekday())
    return _day_open(local.date(), rule, region) and start <= local.time() < end


def _next_open(instant: datetime, rule: Rule, region: str, zone: ZoneInfo) -> datetime:
    """The first instant ≥ ``instant`` inside the rule's window in ``zone`` (UTC)."""
    day = instant.astimezone(zone).date() - timedelta(days=1)  # the day before too: a window can end after midnight UTC
    for _ in range(SEARCH_DAYS + 2):
        if _day_open(day, rule, region):
            start, end = rule.window(day.weekday())
            opens = _instant(day, start, zone)
            closes = _instant(day, end, zone)
            if instant < closes:
                return max(instant, opens)
        day += timedelta(days=1)
    raise QuietHoursError(f"the {region} rule opens on no day within {SEARCH_DAYS} days")


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(timezone.utc)


def _day_open(day: date, rule: Rule, region: str) -> bool:
    if day.weekday() in rule.closed_days:
        return False
    return not (rule.public_holidays and day in _public_holidays(region, day.year))


@lru_cache(maxsize=256)
def _public_holidays(region: str, year: int) -> holidays.HolidayBase:
    country, _, subdivision = region.partition("-")
    return holidays.country_holidays(country, subdiv=subdivision or None, years=year)


@lru_cache(maxsize=1)
def _zone_table() -> dict[str, frozenset[str]]:
    """Region → its IANA zones, from the tz database's ``zone.tab`` (shipped by the ``tzdata`` package)."""
    table: dict[str, set[str]] = {}
    for line in resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text().splitlines():
        if line and not line.startswith("#"):
            region, _coordinates, zone, *_comment = line.split("\t")
            table.setdefault(region, set()).add(zone)
    return {region: frozenset(zones) for region, zones in table.items()}


def region_zones(region: str) -> frozenset[str]:
    """The IANA zones the tz database lists for ``region`` (empty when it lists none)."""
    return _zone_table().get(region, frozenset())


def read_tables(source: Path) -> dict[str, Any]:
    """The ``[default]`` and ``[countries.*]`` tables of a TOML file, of every ``*.toml`` of a folder, or of the bundled files
    (``DEFAULT_FILE`` and its ``countries_*.toml`` siblings); a country named twice is an error."""
    if source == DEFAULT_FILE:
        files = sorted(DATA.glob("countries*.toml"))
    else:
        files = sorted(source.glob("*.toml")) if source.is_dir() else [source]
    merged: dict[str, Any] = {"countries": {}}
    for file in files:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise QuietHoursError(f"cannot read quiet hours from {file}: {exc}") from exc
        for region, table in (data.pop("countries", None) or {}).items():
            if region.upper() in {r.upper() for r in merged["countries"]}:
                raise QuietHoursError(f"{file}: countries.{region} is defined twice")
            merged["countries"][region] = table
        if "default" in data and "default" in merged:
            raise QuietHoursError(f"{file}: a second [default] rule")
        merged.update(data)
    return merged


def load(path: Path | None = None) -> QuietHours:
    """The rules of a TOML file or folder (the bundled one by default); ``QuietHoursError`` naming what is wrong."""
    source = path or DEFAULT_FILE
    data = read_tables(source)
    if "default" not in data:
        raise QuietHoursError(f"{source}: a [default] rule is required")
    countries = {}
    for region, table in (data.get("countries") or {}).items():
        countries[region.upper()] = _rule(table, f"{source}: countries.{region}", region.upper())
    return QuietHours(_rule(data["default"], f"{source}: default", None), countries)


@lru_cache(maxsize=1)
def bundled() -> QuietHours:
    """The rules shipped in ``data/countries*.toml``."""
    return load()


def _rule(table: Mapping[str, Any], where: str, region: str | None) -> Rule:
    unknown = set(table) - {"start", "end", "closed_days", "public_holidays", "time_zone", "windows"} - PROFILE_KEYS
    if unknown:
        raise QuietHoursError(f"{where}: unknown keys {sorted(unknown)}")
    start, end = _window(table.get("start"), table.get("end"), where)
    windows = []
    for day, pair in (table.get("windows") or {}).items():
        if str(day).lower() not in WEEKDAYS or not isinstance(pair, list) or len(pair) != 2:
            raise QuietHoursError(f"{where}: windows.{day} must name a weekday and [\"HH:MM\", \"HH:MM\"]")
        windows.append((WEEKDAYS.index(str(day).lower()), *_window(pair[0], pair[1], f"{where}: windows.{day}")))
    days = table.get("closed_days", [])
    bad_days = [d for d in days if str(d).lower() not in WEEKDAYS]
    if bad_days:
        raise QuietHoursError(f"{where}: closed_days {bad_days} are not weekdays ({', '.join(WEEKDAYS)})")
    public_holidays = bool(table.get("public_holidays", False))
    if public_holidays and (region is None or not _has_holidays(region)):
        raise QuietHoursError(f"{where}: the holidays package has no public holidays for {region or 'the default rule'}")
    zone = table.get("time_zone")
    if zone is not None and not valid_zone(zone):
        raise QuietHoursError(f"{where}: unknown time zone {zone!r}")
    return Rule(start, end, frozenset(WEEKDAYS.index(str(d).lower()) for d in days), public_holidays, zone, tuple(sorted(windows)))


def _has_holidays(region: str) -> bool:
    country, _, subdivision = region.partition("-")
    supported = holidays.list_supported_countries()
    return country in supported and (not subdivision or subdivision in supported[country])


def _window(start_value: object, end_value: object, where: str) -> tuple[time, time]:
    start, end = _clock(start_value, where, "start"), _clock(end_value, where, "end")
    if not start < end:
        raise QuietHoursError(f"{where}: start {start} must be before end {end}")
    return start, end


def _clock(value: object, where: str, key: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise QuietHoursError(f"{where}: {key} must be a local time \"HH:MM\", not {value!r}") from None
