"""The deployment as a person reads it: each provider (kind, channels, options with secrets masked), each route, and
whether the reference tables and every provider's credentials hold. Used by ``courrier config check`` and
``courrier providers list``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from common.config import MASK, Settings
from common.errors import CourrierError
from processors.providers.deployment import Deployment
from processors.providers.registry import ConfiguredProvider, kind


@dataclass(frozen=True)
class ProviderRow:
    """One provider as listed: its name, kind, channels, options (secrets masked) and a word on its state."""

    name: str
    kind: str
    channels: str
    options: str
    state: str


def masked(options: dict[str, Any]) -> str:
    """``key=value`` pairs, a secret (a resolved ``x_env`` reference, or any ``SecretStr``) shown as the mask."""
    return ", ".join(f"{key}={MASK if isinstance(value, SecretStr) else value}" for key, value in sorted(options.items()))


def rows(deployment: Deployment, settings: Settings, state: Any) -> list[ProviderRow]:
    """One row per provider; ``state(provider) -> str`` fills the last column (a check, or a health probe)."""
    return [ProviderRow(p.name, p.kind, ",".join(sorted(p.channels)), masked(dict(p.options)), state(p)) for p in deployment.providers]


def credentials(settings: Settings) -> Any:
    """The state column of ``config check``: "ok", or what is missing (no request is made)."""
    def check(provider: ConfiguredProvider) -> str:
        try:
            kind(provider.kind).check(provider.context(settings))
        except CourrierError as problem:
            return f"missing: {problem}"
        return "ok"
    return check


def reference_problems(deployment: Deployment) -> list[str]:
    """Every reference table of the file, built as its stage builds it: one line per table that does not hold."""
    from processors.channel.senders import SenderPools
    from processors.keywords.book import from_mapping
    from processors.render.logic import footers_from

    builders = {"senders": SenderPools.from_mapping, "keywords": from_mapping, "footers": footers_from}
    problems = []
    for table, build in builders.items():
        raw = getattr(deployment, table)
        if raw is None:
            continue
        try:
            build(raw, f"{deployment.source}: {table}")
        except (ValueError, KeyError, TypeError) as bad:
            problems.append(str(bad))
    problems += keyword_completeness(deployment)
    if deployment.prices is not None and not isinstance(deployment.prices.get("currency"), str):
        problems.append(f"{deployment.source}: prices.currency: expected an ISO 4217 code, e.g. \"EUR\"")
    return problems


def keyword_completeness(deployment: Deployment) -> list[str]:
    """The senders and subscription groups that may not send marketing until their STOP and HELP responses are set
    (the file's ``[keywords]``, else the bundled book); nothing when the book itself does not hold (reported above)."""
    from processors.keywords.book import BookInvalid, from_mapping, load
    from processors.keywords.completeness import Completeness

    where = f"{deployment.source}: keywords" if deployment.keywords is not None else "bundled keywords"
    try:
        book = from_mapping(deployment.keywords, where) if deployment.keywords is not None else load()
    except BookInvalid:
        return []
    return [f"{where}: {line}; it may not send marketing until they are set" for line in Completeness.of(book).problems()]


def render(deployment: Deployment, provider_rows: list[ProviderRow]) -> str:
    """Providers, then routes, as aligned lines."""
    origin = "configuration file" if deployment.declared else "COURRIER_DISPATCH_PROVIDERS (no [providers] in the file)"
    lines = [f"providers ({origin}):"]
    if provider_rows:
        widths = [max(len(getattr(r, column)) for r in provider_rows) for column in ("name", "kind", "channels", "state")]
        for r in provider_rows:
            lines.append(f"  {r.name:<{widths[0]}}  {r.kind:<{widths[1]}}  {r.channels:<{widths[2]}}  {r.state:<{widths[3]}}  {r.options}")
    lines.append("routes:" if deployment.routes else "routes: none (every provider that sends a message's channel, in the order above)")
    for route in deployment.routes:
        lines.append(f"  countries={','.join(sorted(route.countries))}  channels={','.join(sorted(route.channels))}  "
                     f"lanes={','.join(sorted(route.lanes))}  →  {' > '.join(route.providers)}")
    tables = [t for t in ("senders", "keywords", "footers", "prices") if getattr(deployment, t) is not None]
    lines.append(f"reference data from the file: {', '.join(tables) or 'none (the bundled data)'}")
    return "\n".join(lines)
