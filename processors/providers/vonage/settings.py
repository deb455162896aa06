"""Vonage's settings (``COURRIER_VONAGE_*``), read from the environment or given as keyword arguments (a configuration
file's ``[providers.<name>]`` table wins over the environment); nothing here has a usable default secret.

The API secret and the signature secret come from ``COURRIER_VONAGE_API_SECRET`` / ``COURRIER_VONAGE_SIGNATURE_SECRET``
or from the file their ``*_FILE`` setting names (a mounted secret; the file wins). Both are ``SecretStr``, so neither
``repr`` nor a log line shows them. ``credentials()`` and ``signature_secret_value()`` are what the adapter and the
webhook verifier call when they are built: a missing setting is one ``VonageConfigError`` line naming it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import CourrierError
from processors.providers.secrets import secret_value

DEFAULT_API_URL = "https://api.nexmo.com"
ENV = "COURRIER_VONAGE_"


class VonageConfigError(CourrierError):
    """A Vonage setting is missing or unreadable; the message names it and never holds a secret."""


@dataclass(frozen=True)
class Credentials:
    """What HTTP Basic auth on the Messages API needs: the account's API key and secret (never logged)."""

    api_key: str
    api_secret: SecretStr


class VonageSettings(BaseSettings):
    """The account, where the API is, how requests behave and the public URL of our status webhook."""

    model_config = SettingsConfigDict(env_prefix=ENV, extra="ignore")

    api_key: str = Field("", description="The account's API key: the Basic auth user of every send.")
    api_secret: SecretStr = Field(SecretStr(""), description="The account's API secret: the Basic auth password.")
    api_secret_file: Path | None = Field(None, description="A file holding the API secret (wins over COURRIER_VONAGE_API_SECRET).")
    signature_secret: SecretStr = Field(SecretStr(""), description="The account's signature secret: the HS256 key of the "
                                                                   "JWT Vonage signs every Messages API webhook with.")
    signature_secret_file: Path | None = Field(None, description="A file holding the signature secret (wins over "
                                                                 "COURRIER_VONAGE_SIGNATURE_SECRET).")
    api_url: str = Field(DEFAULT_API_URL, description="The Messages API's base URL (a region's, e.g. https://api-eu.vonage.com); "
                                                      "tests point it at the fake.")
    status_webhook_url: str = Field("", description="Public URL of our receiver's /webhooks/<name>, sent as each message's "
                                                    "webhook_url; empty sends none (the application's status URL is used).")
    request_timeout_s: float = Field(10.0, gt=0, description="One request's timeout; an answer lost past it is never resent.")
    concurrency: int = Field(8, ge=1, description="Requests in flight at once (one destination's messages stay in order).")
    throttle_retries: int = Field(3, ge=0, description="429s retried within one submit call, after Retry-After.")

    def credentials(self) -> Credentials:
        """The API key and secret, or ``VonageConfigError`` naming the missing setting."""
        if not self.api_key.strip():
            raise VonageConfigError(f"{ENV}API_KEY is not set: the Vonage account's API key is required")
        return Credentials(self.api_key.strip(), _secret(self.api_secret, self.api_secret_file, "API_SECRET",
                                                         "the account's API secret"))

    def signature_secret_value(self) -> SecretStr:
        """The signature secret webhooks are checked with, or ``VonageConfigError`` naming the missing setting."""
        return _secret(self.signature_secret, self.signature_secret_file, "SIGNATURE_SECRET",
                       "the signature secret Vonage signs webhooks with")


def _secret(value: SecretStr, path: Path | None, name: str, purpose: str) -> SecretStr:
    """The secret from its file when one is named (first line), else from its setting; ``VonageConfigError`` otherwise."""
    return SecretStr(secret_value(value, path, f"{ENV}{name}", VonageConfigError, f"{purpose} is required") or "")
