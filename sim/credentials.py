"""The provider credentials the local simulator and Courrier's real adapters share, generated once per state directory.

- an RBM **service account** key file in Google's JSON shape (``type``, ``project_id``, ``private_key_id``,
  ``private_key`` an RSA-2048 PKCS#8 PEM, ``client_email``, ``client_id``, ``token_uri`` = the simulator's ``/token``):
  google-auth's ``service_account.Credentials`` signs its RS256 assertions with it, the simulator verifies them with
  the public half;
- the RBM webhook **clientToken**, the HMAC key of ``X-Goog-Signature``;
- a Twilio **account SID** (``AC`` + 32 hex) and **auth token** (32 hex): Basic auth and ``X-Twilio-Signature``.

``courrier infra up`` writes them under ``<state dir>/secrets/`` (mode 0600, each created with O_EXCL, so two processes
starting at once keep the first one's file, never half of each); the simulator and the adapters read the same files.
Only the service account's ``token_uri`` is rewritten, when the simulator's address has changed.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SERVICE_ACCOUNT_FILE = "rbm-service-account.json"
CLIENT_TOKEN_FILE = "rbm-client-token"
TWILIO_ACCOUNT_SID_FILE = "twilio-account-sid"
TWILIO_AUTH_TOKEN_FILE = "twilio-auth-token"
LOCAL_PROJECT = "courrier-local"
LOCAL_CLIENT_EMAIL = f"rbm-agent@{LOCAL_PROJECT}.iam.gserviceaccount.com"
LOCAL_AGENT_ID = "courrier_local_agent"  # the RBM agent the local service account may act for


@dataclass(frozen=True)
class ProviderCredentials:
    """Everything the simulator checks requests and signs webhooks with (secrets: never log this object's fields)."""

    service_account: dict[str, str]
    client_token: str
    twilio_account_sid: str
    twilio_auth_token: str

    @classmethod
    def generate(cls, token_uri: str) -> ProviderCredentials:
        """Fresh random credentials; the service account's assertions are to be posted to ``token_uri``."""
        return cls(service_account_info(token_uri), secrets.token_urlsafe(24), "AC" + secrets.token_hex(16), secrets.token_hex(16))


def service_account_info(token_uri: str, client_email: str = LOCAL_CLIENT_EMAIL) -> dict[str, str]:
    """A new service account key file's content, as the Google Cloud console downloads it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": LOCAL_PROJECT, "private_key_id": secrets.token_hex(20), "private_key": pem,
            "client_email": client_email, "client_id": str(secrets.randbelow(10**21)), "auth_uri": "",
            "token_uri": token_uri, "universe_domain": "googleapis.com"}


@dataclass(frozen=True)
class LocalCredentialFiles:
    """Where a state directory keeps the generated credentials (the adapters' ``*_FILE`` settings point here)."""

    service_account: Path
    client_token: Path
    twilio_account_sid: Path
    twilio_auth_token: Path

    @classmethod
    def under(cls, state_dir: Path) -> LocalCredentialFiles:
        """The files of ``state_dir`` (in its ``secrets`` folder)."""
        return cls.in_folder(state_dir / "secrets")

    @classmethod
    def in_folder(cls, folder: Path) -> LocalCredentialFiles:
        return cls(folder / SERVICE_ACCOUNT_FILE, folder / CLIENT_TOKEN_FILE, folder / TWILIO_ACCOUNT_SID_FILE,
                   folder / TWILIO_AUTH_TOKEN_FILE)

    @property
    def folder(self) -> Path:
        return self.service_account.parent

    def read(self) -> ProviderCredentials:
        """The credentials in these files; ``OSError``/``ValueError`` when one is missing or malformed."""
        info = json.loads(self.service_account.read_text(encoding="utf-8"))
        if not isinstance(info, dict) or not {"client_email", "private_key", "token_uri"} <= set(info):
            raise ValueError(f"{self.service_account} is not a service account key file")
        return ProviderCredentials(info, _first_line(self.client_token), _first_line(self.twilio_account_sid),
                                   _first_line(self.twilio_auth_token))


def ensure_local_credentials(state_dir: Path, token_uri: str) -> LocalCredentialFiles:
    """The state directory's credential files, each generated on first use; the service account's ``token_uri`` is
    brought up to date (same key) when the simulator moved to another address."""
    files = LocalCredentialFiles.under(state_dir)
    files.service_account.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fresh = ProviderCredentials.generate(token_uri)
    _write_once(files.client_token, fresh.client_token + "\n")
    _write_once(files.twilio_account_sid, fresh.twilio_account_sid + "\n")
    _write_once(files.twilio_auth_token, fresh.twilio_auth_token + "\n")
    kept = json.loads(_write_once(files.service_account, json.dumps(fresh.service_account, indent=2) + "\n"))
    if kept.get("token_uri") != token_uri:
        _replace(files.service_account, json.dumps({**kept, "token_uri": token_uri}, indent=2) + "\n")
    return files


def _first_line(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0].strip():
        raise ValueError(f"{path} is empty")
    return lines[0].strip()


def _write_once(path: Path, text: str) -> str:
    """``path``'s content: written with ``text`` (mode 0600) when it did not exist yet, else what is already there."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return text


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader sees the old file or the new one), mode 0600."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def public_info(credentials: ProviderCredentials) -> dict[str, Any]:
    """What may be shown of the credentials (nothing secret): the service account's email and key id, the Twilio SID."""
    return {"client_email": credentials.service_account.get("client_email"),
            "private_key_id": credentials.service_account.get("private_key_id"), "twilio_account_sid": credentials.twilio_account_sid}
