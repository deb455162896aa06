"""Courrier's own provider simulator (``python -m sim``): Google RBM (with its OAuth token endpoint), Twilio and the
legacy aggregator API, with signed webhooks.

Nothing to fetch: it is Python in this repository. It listens on 127.0.0.1:``COURRIER_SIM_PORT``. Starting it generates,
once, the providers' credentials into ``<state dir>/secrets/`` (``sim.credentials``: an RBM service account key file,
the RBM webhook clientToken, a Twilio account SID and auth token), which the simulator and the real adapters share."""
from __future__ import annotations

import sys
from pathlib import Path

from common.config import Settings
from common.secret_settings import ensure_local_webhook_secret
from infra.part import Launch, Part
from infra.process import port_open
from sim.credentials import LocalCredentialFiles, ensure_local_credentials
from sim.settings import SimSettings, receiver_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where the `sim` package is importable from, wherever this runs


def webhook_secret(settings: Settings) -> str:
    """The secret the local simulator signs with: the configured one, else the one generated once into the state
    directory, which every receiver with the same state directory reads when it has no secret of its own."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return ensure_local_webhook_secret(settings.state_dir)


def credentials(settings: Settings) -> LocalCredentialFiles:
    """The credential files the local simulator checks requests against and signs with (generated on first use; the
    service account's ``token_uri`` is the simulator's ``/token``): point the real adapters' settings at them."""
    return ensure_local_credentials(settings.state_dir, f"{settings.sim_address}/token")


def adapter_env(settings: Settings) -> dict[str, str]:
    """The environment that points Courrier's real RBM and Twilio adapters (and their webhook verifiers) at the local
    simulator: its URL, the generated credentials' files, the agent, and the receiver URLs the simulator posts to
    (Twilio signs the URL it posts to, so the verifier must know it exactly). The receiver is expected to serve the
    providers as ``rbm`` and ``twilio`` (``/webhooks/rbm``, ``/webhooks/twilio``) where ``COURRIER_SIM_WEBHOOK_URL`` points."""
    files, own = credentials(settings), SimSettings()
    twilio_url = own.twilio_inbound_url or receiver_url(settings.sim_webhook_url, "twilio")
    return {"COURRIER_RBM_API_URL": settings.sim_address, "COURRIER_RBM_AGENT_ID": own.rbm_agent_id,
            "COURRIER_RBM_SERVICE_ACCOUNT_FILE": str(files.service_account), "COURRIER_RBM_CLIENT_TOKEN_FILE": str(files.client_token),
            "COURRIER_TWILIO_API_URL": settings.sim_address, "COURRIER_TWILIO_ACCOUNT_SID": files.read().twilio_account_sid,
            "COURRIER_TWILIO_AUTH_TOKEN_FILE": str(files.twilio_auth_token),
            "COURRIER_TWILIO_STATUS_CALLBACK_URL": twilio_url, "COURRIER_TWILIO_WEBHOOK_URL": twilio_url}


def _launch(settings: Settings) -> Launch:
    # The token and secret travel in the environment, not in argv (readable by every user through ps); the providers'
    # credentials stay in their files, which only the folder's name points at.
    env = {"PYTHONPATH": str(PROJECT_ROOT), "COURRIER_SIM_PORT": str(settings.sim_port), "COURRIER_SIM_TOKEN": settings.sim_token,
           "COURRIER_SIM_WEBHOOK_URL": settings.sim_webhook_url, "COURRIER_WEBHOOK_SECRET": webhook_secret(settings),
           "COURRIER_SIM_CREDENTIALS_DIR": str(credentials(settings).folder), "COURRIER_LOG_LEVEL": "WARNING"}
    return Launch([sys.executable, "-m", "sim", "--port", str(settings.sim_port)], SIM.home(settings), env)


def _ready(settings: Settings) -> bool:
    """The simulator itself answers (not just anything on its port)."""
    import httpx

    try:
        answer = httpx.get(f"{settings.sim_address}/_sim/health", timeout=2)
        return answer.status_code == 200 and answer.json().get("service") == "courrier-sim"
    except (httpx.HTTPError, ValueError):
        return False


SIM = Part(
    name="sim",
    port_setting="COURRIER_SIM_PORT",
    address=lambda s: s.sim_address,
    external=lambda s: s.sim_url,
    fetched=lambda s: True,
    fetch=lambda s: None,
    launch=_launch,
    answers=lambda s: port_open("127.0.0.1", s.sim_port),
    ready=_ready,
    start_timeout_s=30,
)
