"""The providers whose webhooks this receiver serves: every configured provider whose kind has a webhook, at
``POST /webhooks/<key>`` (the name of its ``[providers.<key>]`` table). Without a ``[providers]`` table the receiver
serves what it always did: the simulator at ``/webhooks/sim``, and Twilio at ``/webhooks/twilio`` once an account is set.
"""
from __future__ import annotations

from dataclasses import replace

from common.config import Settings
from processors.providers.deployment import SIM_PROVIDER, Deployment, current, legacy_provider
from processors.providers.registry import ConfiguredProvider, kind
from processors.web.webhook_contract import WebhookProvider
from processors.web.webhook_settings import WebhookSettings


def providers(settings: Settings, webhook: WebhookSettings | None = None) -> dict[str, WebhookProvider]:
    """Every webhook by its URL path name; a configured provider missing a secret raises, naming the setting."""
    deployment = current(settings)
    served = {}
    for provider in _webhook_providers(deployment):
        build = kind(provider.kind).webhook
        if build is not None:
            served[provider.key] = replace(build(provider.context(settings)), name=provider.key)
    return served


def _webhook_providers(deployment: Deployment) -> list[ConfiguredProvider]:
    if deployment.declared:
        return list(deployment.providers)
    from processors.providers.twilio.settings import TwilioSettings

    legacy = [legacy_provider(SIM_PROVIDER, {"kind": "sim"})]
    if TwilioSettings().account_sid.strip():
        legacy.append(legacy_provider("twilio", {"kind": "twilio"}))
    return legacy
