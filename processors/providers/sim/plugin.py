"""The simulator's own contract as a provider kind: ``HttpProvider`` for submits, its signed JSON webhooks, and its
RBM-shaped capability API. Options: ``url`` (default ``COURRIER_SIM_URL``); the token is the simulator's
(``COURRIER_SIM_TOKEN``, or the local one while the simulator is on loopback)."""
from __future__ import annotations

from functools import partial

from processors.channel.logic import CapabilityLookup
from processors.providers.sim.adapter import HttpProvider
from processors.providers.rbm.capability import CapabilityClient, static_bearer
from processors.providers.registry import ProviderContext, ProviderKind
from processors.providers.sim import webhook as sim
from processors.web.webhook_contract import WebhookProvider
from processors.web.webhook_settings import WebhookSettings
from processors.web.webhook_signature import HmacVerifier


def _url(context: ProviderContext) -> str:
    return str(context.options.get("url") or context.settings.sim_address)


def _dispatch(context: ProviderContext) -> HttpProvider:
    return HttpProvider(_url(context), context.settings.sim_token, on_report=context.on_report,
                        on_inbound=context.on_inbound, name=context.name)


def _check(context: ProviderContext) -> None:
    context.settings.sim_token


def _webhook(context: ProviderContext) -> WebhookProvider:
    verifier = HmacVerifier(context.settings.secret("webhook_secret"), WebhookSettings().tolerance_s)
    return WebhookProvider(context.name, verifier.verify, partial(sim.parse, provider=context.name))


def _capability(context: ProviderContext) -> CapabilityLookup:
    settings = context.settings
    return CapabilityClient(str(context.options.get("url") or settings.rbm_url or settings.sim_address),
                            static_bearer(settings.sim_token),
                            ttl_s=settings.rcs_capability_ttl_s, negative_ttl_s=settings.rcs_capability_negative_ttl_s,
                            max_entries=settings.rcs_capability_cache_size, timeout_s=settings.rcs_capability_timeout_s)


KIND = ProviderKind(kind="sim", channels=frozenset({"SMS", "MMS", "RCS"}), dispatch=_dispatch, check=_check,
                    webhook=_webhook, capability=_capability)
