"""Vonage as a provider kind: SMS through the Messages API, status and inbound webhooks signed with a JWT.

Options (``[providers.<name>]``, else ``COURRIER_VONAGE_*``) are ``VonageSettings``' fields; the API secret and the
signature secret are referenced (``*_env`` or ``*_file``), never written in the file.
"""
from __future__ import annotations

import httpx

from processors.providers.registry import ProviderContext, ProviderKind
from processors.providers.vonage.adapter import CHANNELS, PATH, VonageProvider
from processors.providers.vonage.settings import VonageConfigError, VonageSettings
from processors.providers.vonage.webhook import webhook_provider
from processors.web.webhook_contract import WebhookProvider
from processors.web.webhook_settings import WebhookSettings

HEALTH_TIMEOUT_S = 3.0


def _settings(context: ProviderContext) -> VonageSettings:
    return VonageSettings(**context.options)


def _dispatch(context: ProviderContext) -> VonageProvider:
    return VonageProvider(_settings(context), on_report=context.on_report, on_inbound=context.on_inbound, name=context.name)


def _check(context: ProviderContext) -> None:
    """Both secrets a Vonage instance needs: the API's to send, the signature secret to read its webhooks."""
    settings = _settings(context)
    settings.credentials()
    settings.signature_secret_value()


def _webhook(context: ProviderContext) -> WebhookProvider:
    return webhook_provider(_settings(context), context.name, WebhookSettings().tolerance_s)


def _health(context: ProviderContext) -> str:
    """One request with an empty body to the send endpoint (the Messages API has no read endpoint to ask instead): a
    body without ``to``, ``from`` or ``channel`` cannot make a message. 401/403 → the credentials are refused; a
    refusal of the body (400/422) → Vonage answered ("reachable"); no answer → "unreachable: <why>"."""
    settings = _settings(context)
    try:
        credentials = settings.credentials()
    except VonageConfigError as missing:
        return f"credentials missing: {str(missing).split()[0]}"
    try:
        answer = httpx.post(settings.api_url.rstrip("/") + PATH, json={}, timeout=HEALTH_TIMEOUT_S,
                            auth=(credentials.api_key, credentials.api_secret.get_secret_value()))
    except httpx.HTTPError as exc:
        return f"unreachable: {type(exc).__name__}"
    if answer.status_code in (401, 403):
        return f"credentials refused (HTTP {answer.status_code})"
    return "reachable" if answer.status_code in (400, 422) else f"answered HTTP {answer.status_code}"


KIND = ProviderKind(kind="vonage", channels=CHANNELS, dispatch=_dispatch, check=_check, health=_health,
                    webhook=_webhook, settings=VonageSettings)
