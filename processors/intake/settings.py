"""Settings of the HTTP intake only (``COURRIER_API_*`` environment variables); Kafka and the registry come from ``Settings``."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IntakeSettings(BaseSettings):
    """How long idempotency keys hold, how big a request may be, how long to wait for the broker."""

    model_config = SettingsConfigDict(env_prefix="COURRIER_API_", extra="ignore")

    idempotency_window_s: int = Field(24 * 60 * 60, ge=1, description="A key seen within this many seconds returns its first message_id.")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="Larger request bodies are refused with 413 before being parsed.")
    publish_timeout_s: float = Field(10.0, gt=0, description="A record not acknowledged by the broker within this time fails the request (503).")
    source: str = Field("api", description="The `source` written on every send-requested this intake publishes.")
