"""``python -m sim [--port N]``: serve the provider simulator on 127.0.0.1 until SIGTERM or Ctrl-C.

The token, webhook URL and webhook secret come from the settings (``COURRIER_SIM_TOKEN``, ``COURRIER_SIM_WEBHOOK_URL``,
``COURRIER_WEBHOOK_SECRET`` or its ``_FILE``), never from the command line, where any user of the machine could read them.
There is no built-in webhook secret: without one the simulator does not start (unless ``--no-webhooks``).
"""
from __future__ import annotations

import argparse
import sys

import uvicorn

from courrier import logs
from courrier.config import SecretMissing, get_settings
from sim.app import create_app
from sim.simulator import SimOptions

HOST = "127.0.0.1"  # the control routes have no authentication: loopback only, always


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m sim", description="Courrier's RBM and SMS/MMS aggregator simulator.")
    parser.add_argument("--port", type=int, default=settings.sim_port, help=f"port on {HOST} (default: COURRIER_SIM_PORT, %(default)s)")
    parser.add_argument("--max-messages", type=int, default=100_000, help="accepted messages kept for lookups (default: %(default)s)")
    parser.add_argument("--no-webhooks", action="store_true", help="post no events (the URL can still be set with /_sim/config)")
    args = parser.parse_args(argv)
    if args.max_messages < 1 or not 0 < args.port < 65536:
        parser.error("--port must be 1..65535 and --max-messages at least 1")
    try:
        secret = None if args.no_webhooks else settings.secret("webhook_secret")
    except SecretMissing as missing:
        sys.exit(f"python -m sim: {missing}")
    logs.configure(settings.log_level)
    options = SimOptions(token=settings.sim_token, webhook_url=None if args.no_webhooks else settings.sim_webhook_url,
                         webhook_secret=secret, max_messages=args.max_messages)
    # No access log: request paths carry phone numbers (/v1/phones/{e164}/…).
    uvicorn.run(create_app(options), host=HOST, port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
