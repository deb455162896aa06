"""Google RBM's settings (``COURRIER_RBM_*``, or a configuration file's ``[providers.<name>]`` table, which wins).

Two secrets, neither with a default: the service account's key (a JSON file: ``COURRIER_RBM_SERVICE_ACCOUNT_FILE``,
read when the adapter is built; its ``token_uri`` says where access tokens come from) and the webhook's clientToken
(``COURRIER_RBM_CLIENT_TOKEN`` or the file ``COURRIER_RBM_CLIENT_TOKEN_FILE`` names). A missing or unreadable one is
one ``RbmConfigError`` line naming the setting, never showing a secret.

The agent: ``agent_id`` names it in every request (sends, revokes, capability lookups). One configured provider is
one agent: a deployment with an agent per region configures one provider per agent.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import CourrierError
from processors.providers.secrets import secret_value

DEFAULT_API_URL = "https://rcsbusinessmessaging.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/rcsbusinessmessaging"
# What google-auth needs of a service-account key file (the rest of the file is not read).
_KEY_FIELDS = ("client_email", "private_key", "token_uri")


class RbmConfigError(CourrierError):
    """An RBM setting is missing or unreadable; the message names it and never holds a secret."""


class RbmSettings(BaseSettings):
    """The agent, its credentials, where the API is and how requests behave."""

    model_config = SettingsConfigDict(env_prefix="COURRIER_RBM_", extra="forbid")

    agent_id: str = Field("", description="The RBM agent's id (agentId of every request, e.g. 'courrier-agent').")
    service_account_file: Path | None = Field(None, description="The service account's JSON key (a mounted secret file).")
    api_url: str = Field(DEFAULT_API_URL, description="The RBM API's base URL (a regional one, or the fake in tests).")
    client_token: SecretStr = Field(SecretStr(""), description="The webhook's clientToken: X-Goog-Signature key, handshake check.")
    client_token_file: Path | None = Field(None, description="A file holding the clientToken (wins over COURRIER_RBM_CLIENT_TOKEN).")
    request_timeout_s: float = Field(10.0, gt=0, description="One request's timeout; an answer lost past it is resent with "
                                                             "the same messageId, which RBM refuses to deliver twice.")
    concurrency: int = Field(16, ge=1, description="Requests in flight at once (one destination's messages stay in order).")
    throttle_retries: int = Field(3, ge=0, description="429s retried within one submit call, after Retry-After.")
    token_refresh_margin_s: float = Field(300.0, ge=0, description="An access token is renewed this long before it expires.")
    capability_ttl_s: float = Field(86_400.0, ge=0, description="How long an 'RCS-capable' answer is trusted.")
    capability_negative_ttl_s: float = Field(3_600.0, ge=0, description="How long a 'not RCS-capable' answer is trusted.")
    capability_cache_size: int = Field(100_000, ge=1, description="Numbers whose capability one process remembers.")
    capability_timeout_s: float = Field(2.0, gt=0, description="Longest wait for one capability lookup.")

    @classmethod
    def of(cls, **options: Any) -> RbmSettings:
        """The settings from ``options`` (a configuration file's table) over the environment; a bad option or variable
        is ``RbmConfigError`` naming it (its value is not shown: it may be a secret)."""
        try:
            return cls(**options)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "settings"
            raise RbmConfigError(f"RBM setting {where!r} (COURRIER_RBM_{where.upper()}): {first['msg']}") from None

    def agent(self) -> str:
        """The default agent id, or ``RbmConfigError`` when it is not set."""
        if not self.agent_id.strip():
            raise RbmConfigError("COURRIER_RBM_AGENT_ID is not set: the RBM agent's id is required")
        return self.agent_id.strip()

    def service_account(self) -> dict[str, Any]:
        """The service account's key as google-auth reads it, or ``RbmConfigError`` naming what is wrong with the file."""
        path = self.service_account_file
        if path is None:
            raise RbmConfigError("COURRIER_RBM_SERVICE_ACCOUNT_FILE is not set: the path of the service account's JSON key is required")
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise RbmConfigError(f"COURRIER_RBM_SERVICE_ACCOUNT_FILE {str(path)!r} is unreadable ({type(exc).__name__})") from None
        except ValueError:
            raise RbmConfigError(f"COURRIER_RBM_SERVICE_ACCOUNT_FILE {str(path)!r} is not JSON") from None
        missing = [key for key in _KEY_FIELDS if not isinstance(info, dict) or not isinstance(info.get(key), str) or not info[key]]
        if missing:
            raise RbmConfigError(f"COURRIER_RBM_SERVICE_ACCOUNT_FILE {str(path)!r} is not a service account key "
                                 f"(no {', '.join(missing)})")
        return info

    def webhook_token(self) -> str:
        """The webhook's clientToken, or ``RbmConfigError`` naming the missing setting."""
        return secret_value(self.client_token, self.client_token_file, "COURRIER_RBM_CLIENT_TOKEN", RbmConfigError,
                            "the webhook's clientToken from the Business Communications console is required") or ""

    def check(self) -> None:
        """Every setting the adapter and the webhook need is there and readable (``RbmConfigError`` for the first that is not)."""
        self.agent()
        self.service_account()
        self.webhook_token()
