"""Google RBM as a provider kind: RCS through the agentMessages API, events and user messages as webhooks, and the
RCS capability lookup (phones.getCapabilities, users.batchGet) the channel stage asks.

Options (``[providers.<name>]``, else ``COURRIER_RBM_*``) are ``RbmSettings``' fields; the service account's key is
a file (``service_account_file``) and the clientToken is referenced (``client_token_env`` or ``client_token_file``),
never written in the file. One configured provider is one agent.
"""
from __future__ import annotations

import httpx

from processors.channel.logic import CapabilityLookup
from processors.providers.rbm.adapter import CHANNELS, RbmProvider
from processors.providers.rbm.auth import HttpxRequest, TokenRefused, TokenSource, TokenUnavailable
from processors.providers.rbm.capability import rbm_capability
from processors.providers.rbm.settings import RbmConfigError, RbmSettings
from processors.providers.rbm.webhook import webhook_provider
from processors.providers.registry import ProviderContext, ProviderKind
from processors.web.webhook_contract import WebhookProvider

HEALTH_TIMEOUT_S = 3.0


def _settings(context: ProviderContext) -> RbmSettings:
    return RbmSettings.of(**context.options)


def _dispatch(context: ProviderContext) -> RbmProvider:
    return RbmProvider(_settings(context), on_report=context.on_report, on_inbound=context.on_inbound, name=context.name)


def _webhook(context: ProviderContext) -> WebhookProvider:
    settings = _settings(context)
    return webhook_provider(context.name, settings.webhook_token(), settings.agent())


def _capability(context: ProviderContext) -> CapabilityLookup:
    return rbm_capability(_settings(context))


def _check(context: ProviderContext) -> None:
    """The agent, a readable service-account key and the webhook's clientToken."""
    _settings(context).check()


def _health(context: ProviderContext) -> str:
    """One token request with the service account's key (the RBM API has no free read to ask instead): refused →
    the key or account is wrong; answered → "reachable"; no answer → "unreachable: <why>"."""
    try:
        settings = _settings(context)
        key = settings.service_account()
    except RbmConfigError as missing:
        return f"credentials missing: {str(missing).split()[0]}"
    with httpx.Client(timeout=HEALTH_TIMEOUT_S) as client:
        try:
            TokenSource(key, HttpxRequest(client, HEALTH_TIMEOUT_S)).header()
        except TokenRefused:
            return "credentials refused (the token endpoint refused the service account)"
        except TokenUnavailable as exc:
            return f"unreachable: {str(exc)[:80]}"
    return "reachable"


KIND = ProviderKind(kind="rbm", channels=CHANNELS, dispatch=_dispatch, check=_check, health=_health, webhook=_webhook,
                    capability=_capability, settings=RbmSettings)
