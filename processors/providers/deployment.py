"""The deployment's tables in the configuration file: providers, routes, senders, keywords, footers and prices.

    [providers.smsc]                 # a provider instance: its name is the provider's name in receipts and webhook URLs
    kind = "smpp"                    # one of processors.providers.registry.KINDS
    channels = ["SMS"]               # optional: a subset of what the kind sends
    host = "smsc.example.net"        # the kind's own options (its settings class, e.g. COURRIER_SMPP_* / TwilioSettings)
    password_env = "SMSC_PASSWORD"   # a secret is referenced, never written: x_env = "VARIABLE" or x_file = "/path"

    [[routes]]                       # the first route matching a message's country, channel and lane decides
    countries = ["FR", "BE"]         # ISO 3166-1 alpha-2, or "*" (the default)
    channels = ["SMS"]               # default: every channel
    lanes = ["TRANSACTIONAL"]        # default: every lane
    providers = ["smsc", "twilio"]   # in failover order

``senders``, ``keywords``, ``footers`` and ``prices`` have the shapes of the bundled files they replace
(``courrier config example`` prints them all); each stage validates its own when it is built, and ``courrier config
check`` builds them all. Without a ``[providers]`` table the providers come from ``COURRIER_DISPATCH_PROVIDERS`` as
before, and without ``routes`` every message may use every provider that sends its channel, in declaration order.
"""
from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from common.config_file import DEPLOYMENT_TABLES as TABLES
from common.secret_settings import ConfigError
from processors.providers.registry import KINDS, ConfiguredProvider, UnknownKind, kind

if TYPE_CHECKING:
    from common.config import Settings

CHANNELS = frozenset({"SMS", "MMS", "RCS"})
SIM_PROVIDER = "http:sim"  # the simulator's historical provider name: its webhook is /webhooks/sim
ANY = "*"
_ENV_SUFFIX, _FILE_SUFFIX = "_env", "_file"


@dataclass(frozen=True)
class Route:
    """Which providers, in failover order, take the messages of these countries, channels and lanes."""

    providers: tuple[str, ...]
    countries: frozenset[str] = frozenset({ANY})
    channels: frozenset[str] = CHANNELS
    lanes: frozenset[str] = frozenset({ANY})

    def matches(self, channel: str, region: str, lane: str) -> bool:
        return (channel in self.channels and (ANY in self.countries or region in self.countries)
                and (ANY in self.lanes or lane in self.lanes))


@dataclass(frozen=True)
class Deployment:
    """The configured providers (in declaration order), the routes, and the reference data tables given in the file."""

    providers: tuple[ConfiguredProvider, ...] = ()
    routes: tuple[Route, ...] = ()
    senders: Mapping[str, Any] | None = None
    keywords: Mapping[str, Any] | None = None
    footers: Mapping[str, str] | None = None
    prices: Mapping[str, Any] | None = None
    source: str = "defaults"
    declared: bool = False  # the providers come from the file's [providers] (else from COURRIER_DISPATCH_PROVIDERS)

    def provider(self, name: str) -> ConfiguredProvider | None:
        """The provider called ``name`` (its full name, ``kind:key``, or its configuration key)."""
        return next((p for p in self.providers if name in (p.name, p.key)), None)

    def candidates(self, channel: str, region: str, lane: str) -> tuple[str, ...]:
        """The providers that may send one message, in failover order: the first matching route's, else every one."""
        for route in self.routes:
            if route.matches(channel, region, lane):
                return tuple(name for name in route.providers if channel in self._channels(name))
        if self.routes:
            return ()
        return tuple(p.name for p in self.providers if channel in p.channels)

    def _channels(self, name: str) -> frozenset[str]:
        found = self.provider(name)
        return found.channels if found is not None else frozenset()


def load_deployment(path: Path, *, legacy: Mapping[str, Any] | None = None) -> Deployment:
    """The deployment tables of the TOML file at ``path`` (a missing file is the defaults); ``ConfigError`` naming the
    file, the key and what is expected. ``legacy`` builds providers from older settings when the file has none."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except tomllib.TOMLDecodeError as bad:
        raise ConfigError(f"{path}: not valid TOML: {bad}") from None
    except OSError as unreadable:
        raise ConfigError(f"{path}: cannot be read: {unreadable.strerror or unreadable}") from None
    where = str(path)
    providers = tuple(_provider(where, name, table) for name, table in _table(where, raw, "providers").items())
    declared = bool(providers)
    if not providers and legacy:
        providers = tuple(legacy_provider(name, options) for name, options in legacy.items())
    deployment = Deployment(
        providers=providers,
        routes=tuple(_route(where, index, entry, providers) for index, entry in enumerate(_list(where, raw, "routes"))),
        senders=_optional_table(where, raw, "senders"),
        keywords=_optional_table(where, raw, "keywords"),
        footers=_optional_table(where, raw, "footers"),
        prices=_optional_table(where, raw, "prices"),
        source=where if raw else "defaults",
        declared=declared,
    )
    return deployment


def legacy_provider(name: str, options: Mapping[str, Any]) -> ConfiguredProvider:
    """A provider built from ``COURRIER_DISPATCH_PROVIDERS`` and its older settings (``options`` has ``kind``)."""
    found = kind(options["kind"])
    rest = {k: v for k, v in options.items() if k != "kind"}
    return ConfiguredProvider(name, found.kind, found.channels, rest, key="sim" if name == SIM_PROVIDER else name)


def _provider(where: str, name: str, table: Any) -> ConfiguredProvider:
    at = f"{where}: providers.{name}"
    if not isinstance(table, dict):
        raise ConfigError(f"{at}: expected a table with kind = \"…\"")
    if "kind" not in table:
        raise ConfigError(f"{at}: kind is missing; expected one of the provider kinds ({', '.join(sorted(KINDS))})")
    try:
        found = kind(str(table["kind"]))
    except UnknownKind as unknown:
        raise ConfigError(f"{at}.kind: {unknown}") from None
    channels = frozenset(table.get("channels", found.channels))
    if not channels or not channels <= found.channels:
        raise ConfigError(f"{at}.channels = {sorted(channels)}: expected a non-empty subset of {sorted(found.channels)}")
    options = _options(at, {k: v for k, v in table.items() if k not in ("kind", "channels")}, found.settings)
    return ConfiguredProvider(provider_name(found.kind, name), found.kind, channels, options, key=name)


def provider_name(kind_name: str, key: str) -> str:
    """What receipts, the ledger and webhook URLs call the provider declared as ``[providers.<key>]``: its kind, then
    its key (``smpp:eu-smsc``), or the kind alone when the key is the kind. Status words are read by kind
    (``processors.receipt.statuses.protocol_of``), so the kind must lead."""
    return kind_name if key == kind_name else f"{kind_name}:{key}"


def _options(at: str, table: Mapping[str, Any], settings_cls: Any) -> dict[str, Any]:
    """The options with every ``x_env`` reference resolved to ``x``; a secret written inline or an unknown key refused."""
    fields = dict(settings_cls.model_fields) if settings_cls is not None else {}
    secrets = {name for name, f in fields.items() if f.annotation is SecretStr or f.annotation == SecretStr | None}
    options: dict[str, Any] = {}
    for key, value in table.items():
        if key.endswith(_ENV_SUFFIX) and key[: -len(_ENV_SUFFIX)] in fields:
            target = key[: -len(_ENV_SUFFIX)]
            variable = str(value)
            if not os.environ.get(variable, "").strip():
                raise ConfigError(f"{at}.{key}: the environment variable {variable} is not set (it should hold {target})")
            options[target] = SecretStr(os.environ[variable].strip()) if target in secrets else os.environ[variable].strip()
            continue
        if key in secrets:
            raise ConfigError(f"{at}.{key}: a secret is never written in the configuration file; "
                              f"use {key}{_ENV_SUFFIX} = \"VARIABLE\" or {key}{_FILE_SUFFIX} = \"/path/to/a/file\"")
        if fields and key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{at}.{key}: unknown option{hint}; expected one of {', '.join(sorted(fields))}")
        options[key] = value
    return options


def _route(where: str, index: int, entry: Any, providers: tuple[ConfiguredProvider, ...]) -> Route:
    at = f"{where}: routes[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{at}: expected a table (write [[routes]])")
    unknown = set(entry) - {"providers", "countries", "channels", "lanes"}
    if unknown:
        raise ConfigError(f"{at}: unknown keys {sorted(unknown)}; expected providers, countries, channels, lanes")
    names = tuple(str(n) for n in entry.get("providers", ()))
    known = {p.key: p.name for p in providers}
    if not names:
        raise ConfigError(f"{at}.providers: expected at least one provider name, in failover order")
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(f"{at}.providers: no provider named {missing[0]!r}; declared: {', '.join(sorted(known)) or 'none'}")
    channels = frozenset(str(c).upper() for c in entry.get("channels", CHANNELS))
    if not channels <= CHANNELS:
        raise ConfigError(f"{at}.channels = {sorted(channels)}: expected some of SMS, MMS, RCS")
    countries = frozenset(str(c).upper() if c != ANY else ANY for c in entry.get("countries", [ANY]))
    bad = sorted(c for c in countries if c != ANY and (len(c) != 2 or not c.isalpha()))
    if bad:
        raise ConfigError(f"{at}.countries: {bad[0]!r} is not an ISO 3166-1 alpha-2 code (or \"*\")")
    lanes = frozenset(str(lane).upper() if lane != ANY else ANY for lane in entry.get("lanes", [ANY]))
    return Route(tuple(known[n] for n in names), countries, channels, lanes)


def _table(where: str, raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key}: expected a table ([{key}.<name>])")
    return value


def _list(where: str, raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key}: expected an array of tables ([[{key}]])")
    return value


def _optional_table(where: str, raw: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    if key not in raw:
        return None
    return _table(where, raw, key)



def legacy_providers(settings: "Settings") -> dict[str, dict[str, Any]]:
    """The providers ``COURRIER_DISPATCH_PROVIDERS`` names (smpp, http, twilio), keyed by their historical names, for a
    configuration file without ``[providers]``: ``smpp:<host>:<port>`` (and the failover peer), ``http:sim``, ``twilio``."""
    providers: dict[str, dict[str, Any]] = {}
    for name in (part.strip() for part in settings.dispatch_providers.split(",") if part.strip()):
        if name == "smpp":
            host, port = settings.smpp_address
            providers[f"smpp:{host}:{port}"] = {"kind": "smpp"}
            if settings.smpp_failover:
                failover_host, _, failover_port = settings.smpp_failover.rpartition(":")
                if not failover_host or not failover_port.isdigit():
                    raise ConfigError(f"COURRIER_SMPP_FAILOVER must be host:port, not {settings.smpp_failover!r}")
                providers[f"smpp:{settings.smpp_failover}"] = {"kind": "smpp", "host": failover_host, "port": int(failover_port)}
        elif name == "http":
            providers[SIM_PROVIDER] = {"kind": "sim"}
        elif name == "twilio":
            providers["twilio"] = {"kind": "twilio"}
        else:
            raise ConfigError(f"COURRIER_DISPATCH_PROVIDERS: no provider {name!r}; use smpp, http or twilio, in order of preference, "
                              "or declare [providers.<name>] in the configuration file")
    if not providers:
        raise ConfigError("COURRIER_DISPATCH_PROVIDERS names no provider; use smpp, http or both")
    return providers


def current(settings: "Settings") -> Deployment:
    """The deployment of the configuration file the settings were read from (``$COURRIER_CONFIG``, else
    ``courrier.toml``), with the older settings' providers when it declares none."""
    from common.config import config_file

    return load_deployment(config_file(), legacy=legacy_providers(settings))
