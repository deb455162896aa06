"""Twilio's settings (``COURRIER_TWILIO_*``), read from the environment; nothing here has a usable default secret.

The auth token comes from ``COURRIER_TWILIO_AUTH_TOKEN`` or from the file ``COURRIER_TWILIO_AUTH_TOKEN_FILE`` names
(a mounted secret); it is a ``SecretStr`` so that neither ``repr`` nor a log line shows it. ``credentials()`` is
what the adapter and the webhook verifier call when they are built: a missing setting is one ``TwilioConfigError``
line naming it, before anything is sent or served.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import CourrierError
from processors.providers.secrets import secret_value

DEFAULT_API_URL = "https://api.twilio.com"


class TwilioConfigError(CourrierError):
    """A Twilio setting is missing or unreadable; the message names it and never holds a secret."""


@dataclass(frozen=True)
class Credentials:
    """What Basic auth and ``X-Twilio-Signature`` need: the account and its auth token (never logged)."""

    account_sid: str
    auth_token: SecretStr


class TwilioSettings(BaseSettings):
    """The account, where the API is, how requests behave and the public URLs of our webhook receiver."""

    model_config = SettingsConfigDict(env_prefix="COURRIER_TWILIO_", extra="ignore")

    account_sid: str = Field("", description="The account's SID (AC…): the Basic auth user and the path of every request.")
    auth_token: SecretStr = Field(SecretStr(""), description="The account's auth token: Basic auth password, webhook signing key.")
    auth_token_file: Path | None = Field(None, description="A file holding the auth token (wins over COURRIER_TWILIO_AUTH_TOKEN).")
    messaging_service_sid: str = Field("", description="Send through this Messaging Service (MG…) instead of From = sender id.")
    api_url: str = Field(DEFAULT_API_URL, description="The REST API's base URL; tests point it at the fake.")
    status_callback_url: str = Field("", description="Public URL of our receiver's /webhooks/twilio, sent as StatusCallback; "
                                                     "empty sends none (no delivery reports).")
    webhook_url: str = Field("", description="The URL Twilio posts to and signs, as Twilio sees it (inbound messages); "
                                             "status callbacks are checked against status_callback_url too.")
    request_timeout_s: float = Field(10.0, gt=0, description="One request's timeout; an answer lost past it is reconciled, never resent.")
    concurrency: int = Field(8, ge=1, description="Requests in flight at once (one destination's messages stay in order).")
    throttle_retries: int = Field(3, ge=0, description="429s retried within one submit call, after Retry-After.")

    def credentials(self) -> Credentials:
        """The account and its token, or ``TwilioConfigError`` naming the missing setting."""
        if not self.account_sid.strip():
            raise TwilioConfigError("COURRIER_TWILIO_ACCOUNT_SID is not set: the Twilio account SID (AC…) is required")
        return Credentials(self.account_sid.strip(), self._auth_token())

    def signed_urls(self) -> tuple[str, ...]:
        """The URLs a genuine webhook may be signed with (the inbound webhook's, the StatusCallback's); none configured is
        ``TwilioConfigError``, since no request could then be checked."""
        urls = tuple(dict.fromkeys(url for url in (self.webhook_url.strip(), self.status_callback_url.strip()) if url))
        if not urls:
            raise TwilioConfigError("COURRIER_TWILIO_WEBHOOK_URL (or COURRIER_TWILIO_STATUS_CALLBACK_URL) is not set: "
                                    "the public URL of /webhooks/twilio is what Twilio signs")
        return urls

    def _auth_token(self) -> SecretStr:
        return SecretStr(secret_value(self.auth_token, self.auth_token_file, "COURRIER_TWILIO_AUTH_TOKEN", TwilioConfigError,
                                      "the account's auth token is required") or "")
