"""The providers whose webhooks this receiver serves, each with its verifier and parser.

To add one: write its parser (a module like ``sim.py``) and register it here with its verifier.
"""
from __future__ import annotations

from courrier.config import Settings
from processors.providers.twilio.webhook import webhook_providers as twilio_webhooks
from processors.webhooks import sim
from processors.webhooks.contract import WebhookProvider
from processors.webhooks.settings import WebhookSettings
from processors.webhooks.signature import HmacVerifier


def providers(settings: Settings, webhook: WebhookSettings) -> dict[str, WebhookProvider]:
    """Every provider by the name in its URL path; ``SecretMissing`` when a provider's signing secret is not set."""
    return {
        "sim": WebhookProvider("sim", HmacVerifier(settings.secret("webhook_secret"), webhook.tolerance_s).verify, sim.parse),
        **twilio_webhooks(),  # "twilio" when COURRIER_TWILIO_ACCOUNT_SID is set (processors/providers/twilio/webhook.py)
    }
