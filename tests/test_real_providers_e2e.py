"""The demo's deployment through the whole chain: RCS through the RBM adapter, SMS through the SMSC and through Twilio,
every stage its own process, against a private simulator speaking RBM's and Twilio's wire formats (OAuth tokens,
agentMessages, X-Goog-Signature push envelopes; Messages.json with Basic auth, X-Twilio-Signature callbacks) and the
shared SMSC. Every request ends in exactly one terminal receipt, each provider's deliveries named by its provider."""
from __future__ import annotations

import json
import secrets
from pathlib import Path

from pydantic import SecretStr

from common.config import Settings
from courrier.client import CourrierClient
from courrier.demo import DEMO_PROVIDERS
from courrier.outcomes import OutcomeWatcher
from courrier.processes import PIPELINE, start_stage, start_webhooks, stop_all
from sim.simulator import SimOptions
from sim.testing import private_sim
from test_rcs_fallback_e2e import free_port, wait_healthy  # noqa: I001 (same folder)


def adapter_env(sim, receiver: str, folder: Path) -> dict[str, str]:
    """The real adapters pointed at the private simulator: its URL, its agent, its credentials written as files."""
    key, client_token, twilio_token = folder / "rbm-service-account.json", folder / "rbm-client-token", folder / "twilio-auth-token"
    key.write_text(json.dumps(sim.service_account()), encoding="utf-8")
    client_token.write_text(sim.credentials.client_token, encoding="utf-8")
    twilio_token.write_text(sim.credentials.twilio_auth_token, encoding="utf-8")
    config = folder / "courrier.toml"
    config.write_text(DEMO_PROVIDERS, encoding="utf-8")
    return {"COURRIER_CONFIG": str(config), "COURRIER_RBM_API_URL": sim.url, "COURRIER_RBM_AGENT_ID": sim.agent_id,
            "COURRIER_RBM_SERVICE_ACCOUNT_FILE": str(key), "COURRIER_RBM_CLIENT_TOKEN_FILE": str(client_token),
            "COURRIER_TWILIO_API_URL": sim.url, "COURRIER_TWILIO_ACCOUNT_SID": sim.credentials.twilio_account_sid,
            "COURRIER_TWILIO_AUTH_TOKEN_FILE": str(twilio_token),
            "COURRIER_TWILIO_STATUS_CALLBACK_URL": f"{receiver}/webhooks/twilio", "COURRIER_TWILIO_WEBHOOK_URL": f"{receiver}/webhooks/twilio"}


def test_rcs_through_rbm_and_sms_through_smpp_and_twilio_each_end_once(topic_settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    receiver = f"http://127.0.0.1:{port}"
    options = SimOptions(webhook_url=None, rbm_webhook_url=f"{receiver}/webhooks/rbm", twilio_inbound_url=f"{receiver}/webhooks/twilio")
    with private_sim(options) as sim:
        settings = topic_settings.model_copy(update={"dispatch_pacing": False, "quiet_hours_enabled": False,
                                                     "webhook_secret": SecretStr(secrets.token_urlsafe(32))})
        env = adapter_env(sim, receiver, tmp_path)
        processes = [start_webhooks(settings, tmp_path, port, extra_env=env),
                     *(start_stage(name, settings, tmp_path, extra_env=env) for name in PIPELINE)]
        try:
            wait_healthy(f"{receiver}/healthz", processes[0])
            watcher = OutcomeWatcher(settings)
            client = CourrierClient(settings, source="test")
            rcs = [client.send(f"+3361200{i:04d}", "order_shipped", {"first_name": "Léa", "order_id": f"R{i}"},
                               channel_policy="RCS_WITH_SMS_FALLBACK", lane="TRANSACTIONAL") for i in range(12)]
            french = [client.send(f"+3361300{i:04d}", "otp", {"code": "123456"}, lane="TRANSACTIONAL") for i in range(12)]
            american = [client.send(f"+1201555{i:04d}", "otp", {"code": "654321"}, lane="TRANSACTIONAL") for i in range(12)]
            client.flush()
            ids = rcs + french + american
            outcomes = watcher.wait_terminal(ids, timeout_s=150)
        finally:
            stop_all(processes)
    assert [m for m in ids if len(outcomes.terminal(m)) != 1] == [], "every message ends exactly once"
    final = {m: outcomes.terminal(m)[0] for m in ids}
    assert {final[m]["provider"] for m in french} == {"smpp:smsc"} and {final[m]["status"] for m in french} == {"DELIVERED"}
    assert {final[m]["provider"] for m in american} == {"twilio"} and {final[m]["status"] for m in american} == {"DELIVERED"}
    rbm = [final[m] for m in rcs if final[m]["channel"] == "RCS"]
    assert rbm and {r["provider"] for r in rbm} == {"rbm"}, "capable numbers get RCS through the RBM adapter"
    assert outcomes.dead_letters == []
