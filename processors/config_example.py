"""``courrier config example``: a whole configuration file, the bundled reference data included, to start from.

The providers and routes show each kind with its credentials referenced from the environment (never inline); the
``senders``, ``keywords``, ``footers`` and ``prices`` tables are the data Courrier ships with, written as TOML, so
the example is what runs when no file is given, and a deployment edits the copy instead of the package.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tomli_w

from processors.channel.senders import DEFAULT_POOLS
from processors.keywords.book import DEFAULT_PATH as DEFAULT_KEYWORDS
from processors.rules.prices import DEFAULT_PRICES
from processors.render.logic import DEFAULT_FOOTERS

HEADER = '''\
# Courrier's configuration: point COURRIER_CONFIG at this file (or name it courrier.toml in the working directory).
# `courrier config check FILE` validates it and shows the effective configuration, secrets masked;
# `courrier providers list` shows each provider, its channels and its health.
#
# Settings (any COURRIER_* variable without its prefix, lower case) come first, then the deployment's tables.
# A secret is never written here: reference it with <option>_env = "VARIABLE" (or <option>_file = "/path").

smpp_window = 10

# Providers: [providers.<name>], kind = smpp | rbm | twilio | vonage | sim. The name is the provider's name in
# receipts (kind:name) and its webhook URL (/webhooks/<name>).
[providers.smsc]
kind = "smpp"
host = "127.0.0.1"
port = 2775
system_id = "j"
window = 10

[providers.twilio]
kind = "twilio"
channels = ["SMS", "MMS"]
account_sid_env = "TWILIO_ACCOUNT_SID"
auth_token_env = "TWILIO_AUTH_TOKEN"
status_callback_url = "https://hooks.example.com/webhooks/twilio"
webhook_url = "https://hooks.example.com/webhooks/twilio"

# Google RBM (RCS): an agent and its service account's key file; webhooks at /webhooks/rbm (clientToken handshake,
# X-Goog-Signature). Uncomment with your agent's values:
# [providers.rbm]
# kind = "rbm"
# agent_id = "my-agent"
# service_account_file = "/run/secrets/rbm-service-account.json"
# client_token_env = "RBM_CLIENT_TOKEN"

# Vonage Messages API (SMS); webhooks at /webhooks/vonage, signed JWTs:
# [providers.vonage]
# kind = "vonage"
# api_key_env = "VONAGE_API_KEY"
# api_secret_env = "VONAGE_API_SECRET"
# signature_secret_env = "VONAGE_SIGNATURE_SECRET"
# status_webhook_url = "https://hooks.example.com/webhooks/vonage"

# Routes: the first one matching a message's country, channel and lane gives its providers, in failover order.
[[routes]]
countries = ["US", "CA"]
channels = ["SMS", "MMS"]
providers = ["twilio", "smsc"]

[[routes]]
channels = ["SMS"]
providers = ["smsc", "twilio"]

[[routes]]
channels = ["MMS"]
providers = ["twilio"]

'''


def bundled() -> dict[str, Any]:
    """The reference data Courrier ships with, as the configuration file's tables."""
    return {table: json.loads(path.read_text(encoding="utf-8")) for table, path in
            (("senders", DEFAULT_POOLS), ("keywords", DEFAULT_KEYWORDS), ("footers", DEFAULT_FOOTERS), ("prices", DEFAULT_PRICES))}


def example() -> str:
    """The whole example file: settings, providers and routes, then the bundled reference data."""
    return HEADER + "# Reference data: what Courrier ships with. Edit freely; each table is checked when its stage starts.\n\n" + \
        tomli_w.dumps(bundled())


def write(path: Path | None) -> str:
    """Write the example to ``path`` (stdout when None); the words to show the user."""
    text = example()
    if path is None:
        return text
    path.write_text(text, encoding="utf-8")
    return f"wrote {path}; check it with `courrier config check {path}`"
