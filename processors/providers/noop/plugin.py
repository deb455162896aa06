"""The no-op provider as a provider kind: SMS, MMS and RCS accepted and reported delivered, nothing sent.

No options, no credentials, no webhook (its reports come through dispatch's callback), no capability lookup (the
channel stage never picks RCS for it). ``check`` has nothing to find missing; health is "reachable" by construction.
"""
from __future__ import annotations

from processors.providers.noop.adapter import CHANNELS, NoopProvider
from processors.providers.registry import ProviderContext, ProviderKind


def _dispatch(context: ProviderContext) -> NoopProvider:
    return NoopProvider(on_report=context.on_report, on_inbound=context.on_inbound, name=context.name)


def _check(_context: ProviderContext) -> None:
    """Nothing to check: a no-op provider needs no setting."""


KIND = ProviderKind(kind="noop", channels=CHANNELS, dispatch=_dispatch, check=_check, health=lambda _context: "reachable (sends nothing)")
