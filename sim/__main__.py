"""``python -m sim [--port N]``: serve the provider simulator on 127.0.0.1 until SIGTERM or Ctrl-C.

Secrets never come from the command line, where any user of the machine could read them: the legacy token, webhook
URL and secret from the settings (``COURRIER_SIM_TOKEN``, ``COURRIER_SIM_WEBHOOK_URL``, ``COURRIER_WEBHOOK_SECRET`` or
its ``_FILE``), the providers' credentials from the files in ``COURRIER_SIM_CREDENTIALS_DIR`` (default:
``<state dir>/secrets``, generated there when missing), the rest from ``sim.settings.SimSettings``. There is no built-in
webhook secret: without one the simulator does not start (unless ``--no-webhooks``).
"""
from __future__ import annotations

import argparse
import sys

import uvicorn

from common import logs
from common.config import SecretMissing, get_settings
from sim.app import create_app
from sim.credentials import LocalCredentialFiles, ensure_local_credentials
from sim.settings import SimSettings, receiver_url
from sim.simulator import SimOptions

HOST = "127.0.0.1"  # the control routes have no authentication: loopback only, always


def main(argv: list[str] | None = None) -> None:
    settings, own = get_settings(), SimSettings()
    parser = argparse.ArgumentParser(prog="python -m sim", description="Courrier's RBM, Twilio and legacy aggregator simulator.")
    parser.add_argument("--port", type=int, default=settings.sim_port, help=f"port on {HOST} (default: COURRIER_SIM_PORT, %(default)s)")
    parser.add_argument("--max-messages", type=int, default=100_000, help="accepted messages kept for lookups (default: %(default)s)")
    parser.add_argument("--no-webhooks", action="store_true", help="post no events (the URLs can still be set with /_sim/config)")
    args = parser.parse_args(argv)
    if args.max_messages < 1 or not 0 < args.port < 65536:
        parser.error("--port must be 1..65535 and --max-messages at least 1")
    try:
        secret = None if args.no_webhooks else settings.secret("webhook_secret")
    except SecretMissing as missing:
        sys.exit(f"python -m sim: {missing}")
    files = (LocalCredentialFiles.in_folder(own.credentials_dir) if own.credentials_dir is not None
             else ensure_local_credentials(settings.state_dir, f"http://{HOST}:{args.port}/token"))
    try:
        credentials = files.read()
    except (OSError, ValueError) as exc:
        sys.exit(f"python -m sim: the provider credentials in {files.folder} are unreadable ({exc})")
    logs.configure(settings.log_level)
    hooks = not args.no_webhooks
    options = SimOptions(token=settings.sim_token, webhook_url=settings.sim_webhook_url if hooks else None, webhook_secret=secret,
                         rbm_webhook_url=(own.rbm_webhook_url or receiver_url(settings.sim_webhook_url, "rbm")) if hooks else None,
                         twilio_inbound_url=(own.twilio_inbound_url or receiver_url(settings.sim_webhook_url, "twilio")) if hooks else None,
                         credentials=credentials, rbm_agent_id=own.rbm_agent_id, max_messages=args.max_messages)
    # No access log: request paths carry phone numbers (/v1/phones/{e164}/…).
    uvicorn.run(create_app(options), host=HOST, port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
