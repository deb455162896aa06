"""Twilio as a provider kind: SMS and MMS through the Messages resource, reports and inbound messages as webhooks.

Options (``[providers.<name>]``, else ``COURRIER_TWILIO_*``) are ``TwilioSettings``' fields; the auth token is
referenced (``auth_token_env`` or ``auth_token_file``), never written in the file.
"""
from __future__ import annotations

from processors.providers.registry import ProviderContext, ProviderKind
from processors.providers.twilio.adapter import CHANNELS, TwilioProvider
from processors.providers.twilio.settings import TwilioSettings
from processors.providers.twilio.webhook import webhook_provider


def _settings(context: ProviderContext) -> TwilioSettings:
    return TwilioSettings(**context.options)


def _dispatch(context: ProviderContext) -> TwilioProvider:
    return TwilioProvider(_settings(context), on_report=context.on_report, on_inbound=context.on_inbound, name=context.name)


def _check(context: ProviderContext) -> None:
    _settings(context).credentials()


KIND = ProviderKind(
    kind="twilio", channels=CHANNELS, dispatch=_dispatch, check=_check, settings=TwilioSettings,
    webhook=lambda context: webhook_provider(_settings(context), context.name),
)
