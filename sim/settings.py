"""The simulator's own settings (``COURRIER_SIM_*``), beside those ``common.config.Settings`` holds for it
(``COURRIER_SIM_PORT``, ``COURRIER_SIM_TOKEN``, ``COURRIER_SIM_WEBHOOK_URL``, ``COURRIER_WEBHOOK_SECRET``)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sim.credentials import LOCAL_AGENT_ID


class SimSettings(BaseSettings):
    """Where the real providers' webhooks go, which RBM agent the service account acts for, and where the credentials are."""

    model_config = SettingsConfigDict(env_prefix="COURRIER_SIM_", extra="ignore")

    rbm_webhook_url: str | None = Field(None, description="The RBM agent's webhook, our receiver's /webhooks/rbm; default: "
                                                          "the legacy webhook URL's origin + /webhooks/rbm.")
    twilio_inbound_url: str | None = Field(None, description="Where Twilio posts inbound messages, our receiver's /webhooks/twilio; "
                                                             "default: the legacy webhook URL's origin + /webhooks/twilio.")
    rbm_agent_id: str = Field(LOCAL_AGENT_ID, description="The RBM agent the service account may act for (agentId).")
    credentials_dir: Path | None = Field(None, description="The folder of the generated credential files (infra up names it); "
                                                           "default: <state dir>/secrets, generated there if missing.")


def receiver_url(legacy_webhook_url: str, provider: str) -> str:
    """Our receiver's route for ``provider`` on the same origin as the legacy webhook URL."""
    parts = urlsplit(legacy_webhook_url)
    return f"{parts.scheme}://{parts.netloc}/webhooks/{provider}"
