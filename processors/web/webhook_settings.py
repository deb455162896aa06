"""Settings of the webhook receiver only (``COURRIER_WEBHOOK_*``); the secret (``COURRIER_WEBHOOK_SECRET`` or
``COURRIER_WEBHOOK_SECRET_FILE``, no default) and Kafka come from ``Settings``."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    """How old a signature may be, how much a receiver remembers to spot replays, how big a body may be."""

    # extra="ignore": COURRIER_WEBHOOK_SECRET and _SECRET_FILE share the prefix and belong to ``Settings``.
    model_config = SettingsConfigDict(env_prefix="COURRIER_WEBHOOK_", extra="ignore")

    tolerance_s: int = Field(300, ge=1, le=3600, description="A request whose signed timestamp is further than this from now is refused (401).")
    replay_capacity: int = Field(100_000, ge=1, description="Events remembered to refuse replays; past it the oldest are forgotten early.")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Larger bodies are refused with 413 before being parsed.")
    publish_timeout_s: float = Field(10.0, gt=0, description="A record not acknowledged by Kafka within this time answers 503 (the provider retries).")
