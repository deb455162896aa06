"""Settings of status callbacks (``COURRIER_CALLBACK_*`` environment variables), read by the callbacks stage and the intake."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CallbackSettings(BaseSettings):
    """How long a refused callback is retried, how fast, how long one POST may take, and the SSRF allow-list."""

    model_config = SettingsConfigDict(env_prefix="COURRIER_CALLBACK_", extra="ignore")

    retry_for_s: float = Field(24 * 60 * 60, gt=0, description="How long after its first try a receipt is retried; then one "
                               "callback-failed record.")
    base_delay_s: float = Field(5.0, gt=0, description="Delay before the first retry; each next one doubles it.")
    max_delay_s: float = Field(3600.0, gt=0, description="Longest delay between two tries.")
    timeout_s: float = Field(10.0, gt=0, description="Longest one POST may take (connect, send, answer).")
    concurrency: int = Field(16, ge=1, le=256, description="POSTs in flight at once per callbacks instance.")
    allow_hosts: str = Field("", description="Comma-separated host or host:port a callback may reach whatever it resolves to "
                             "(e.g. 127.0.0.1:8080); the only way past the SSRF rules (public addresses, ports 80 and 443).")
