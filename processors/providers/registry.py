"""Every kind of provider Courrier can send through, and how a configured one is built.

A kind lives in one folder, ``processors/providers/<kind>/``, whose ``plugin.py`` defines ``KIND``; adding a provider
is that folder and one line in ``KINDS`` below. Dispatch, channel, the webhook receiver and ``courrier providers list``
see only ``ProviderKind`` and the contracts it returns (``processors.dispatch.provider.Provider``,
``processors.web.webhook_contract.WebhookProvider``, ``processors.channel.logic.CapabilityLookup``).

A *configured* provider is an instance of a kind under a name of its own (``[providers.<name>]`` in the configuration
file, see ``processors.providers.deployment``): two SMPP peers are two instances of kind ``smpp``. Its name is the provider's name
everywhere: in the ledger, in receipts, in the webhook URL (``/webhooks/<name>``).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from common.errors import CourrierError, UnreachableError
from processors.dispatch.provider import InboundCallback, Provider, ReportCallback

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from common.config import Settings
    from processors.channel.logic import CapabilityLookup
    from processors.web.webhook_contract import WebhookProvider

# kind → the module whose ``KIND`` describes it. One line per provider.
KINDS: dict[str, str] = {
    "smpp": "processors.providers.smpp.plugin",
    "rbm": "processors.providers.rbm.plugin",
    "twilio": "processors.providers.twilio.plugin",
    "vonage": "processors.providers.vonage.plugin",
    "sim": "processors.providers.sim.plugin",
    "noop": "processors.providers.noop.plugin",
}


class UnknownKind(CourrierError):
    """A configured provider names a kind Courrier does not have."""


def _ignore(_report: object) -> None:
    """The callback of a provider built only to be looked at (``providers list``, ``config check``)."""


@dataclass(frozen=True)
class ProviderContext:
    """What building one configured provider needs.

    ``options`` are its configuration-file table without ``kind`` and ``channels`` (credential references already
    resolved: ``x_env = "VAR"`` became ``x`` = the variable's value); a kind passes them to its settings class as
    keyword arguments, so the file wins over the kind's ``COURRIER_<KIND>_*`` environment variables.
    """

    name: str
    options: Mapping[str, Any]
    settings: "Settings"
    on_report: ReportCallback = _ignore
    on_inbound: InboundCallback = _ignore


@dataclass(frozen=True)
class ProviderKind:
    """One kind of provider: the channels it can send and how each of its parts is built from a ``ProviderContext``.

    ``check`` raises a ``CourrierError`` naming the first missing or unreadable setting (never showing a secret);
    ``health`` answers in a few words for ``courrier providers list`` ("reachable", "unreachable: …"), with at most one
    cheap request; without one, ``health`` below opens and closes the dispatch adapter (which checks its credentials). ``webhook`` is None for a kind whose reports come over its own connection (SMPP); ``capability`` is
    set for the kinds that can say whether a number is RCS-capable. ``settings`` is the class its options validate
    against (its ``SecretStr`` fields are the keys a configuration file may only reference, never write inline).
    """

    kind: str
    channels: frozenset[str]
    dispatch: Callable[[ProviderContext], Provider]
    check: Callable[[ProviderContext], None]
    health: Callable[[ProviderContext], str] | None = None
    webhook: Callable[[ProviderContext], "WebhookProvider"] | None = None
    capability: Callable[[ProviderContext], "CapabilityLookup"] | None = None
    settings: type["BaseSettings"] | None = None


@dataclass(frozen=True)
class ConfiguredProvider:
    """A provider instance as the deployment declares it: its name (``kind:key``, see ``processors.providers.deployment``), kind,
    the channels it sends, its options, and ``key``, the name of its ``[providers.<key>]`` table."""

    name: str
    kind: str
    channels: frozenset[str]
    options: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""

    def context(self, settings: "Settings", on_report: ReportCallback = _ignore, on_inbound: InboundCallback = _ignore) -> ProviderContext:
        return ProviderContext(self.name, self.options, settings, on_report, on_inbound)


def kind(name: str) -> ProviderKind:
    """The kind called ``name``; ``UnknownKind`` listing the kinds there are."""
    module = KINDS.get(name)
    if module is None:
        raise UnknownKind(f"no provider kind {name!r}; use one of {', '.join(sorted(KINDS))}")
    return importlib.import_module(module).KIND


def health(provider: ConfiguredProvider, settings: "Settings") -> str:
    """A few words on whether ``provider`` can send now: its settings, then its kind's probe or one open and close."""
    found = kind(provider.kind)
    context = provider.context(settings)
    try:
        found.check(context)
        if found.health is not None:
            return found.health(context)
        adapter = found.dispatch(context)
        adapter.open()
        adapter.close()
    except CourrierError as problem:
        return f"{'unreachable' if isinstance(problem, UnreachableError) else 'misconfigured'}: {problem}"
    return "reachable"
