"""Courrier's secrets: which settings are secrets and what each protects, the configuration errors, and the webhook secret
``courrier infra up`` generates for the local simulator. Below ``common.config``: no settings are read here."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from common.errors import CourrierError

LOCAL_WEBHOOK_SECRET = "webhook-secret"  # file name under <state dir>/secrets/


class ConfigError(CourrierError):
    """The configuration does not hold: the message names the file or variable, the key and what is expected."""


class SecretMissing(CourrierError):
    """A service needs a secret that no setting gives; the message starts with the variable to set."""


@dataclass(frozen=True)
class SecretSpec:
    """One secret: the ``SecretStr`` field, its environment variable, the field naming a file that holds it, and what
    it protects (said when it is missing)."""

    field: str
    env: str
    file_field: str
    purpose: str

    @property
    def file_key(self) -> str:
        """The key under which the configuration file may name the secret's file."""
        return self.file_field

    @property
    def inline_keys(self) -> tuple[str, ...]:
        """Keys a configuration file might use to write the secret itself (always refused)."""
        return tuple(dict.fromkeys((self.field, self.env.removeprefix("COURRIER_").lower())))


SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec("webhook_secret", "COURRIER_WEBHOOK_SECRET", "webhook_secret_file",
               "the HMAC key provider webhooks are signed with"),
    SecretSpec("sim_token_secret", "COURRIER_SIM_TOKEN", "sim_token_file", "the bearer token of the HTTP provider API"),
    SecretSpec("smpp_password_secret", "COURRIER_SMPP_PASSWORD", "smpp_password_file", "the SMPP bind password"),
    SecretSpec("s3_secret_key_secret", "COURRIER_S3_SECRET_KEY", "s3_secret_key_file", "the S3 secret access key"),
)
_SECRET_BY_FIELD = {spec.field: spec for spec in SECRETS}


def _read_secret_file(path: Path) -> str:
    """The secret on the first line of ``path``; empty when the file is missing, unreadable or empty."""
    try:
        lines = path.expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return lines[0].strip() if lines else ""


def local_secret_path(state_dir: Path) -> Path:
    """Where ``courrier infra up`` keeps the webhook secret it generated for the local simulator."""
    return state_dir / "secrets" / LOCAL_WEBHOOK_SECRET


def ensure_local_webhook_secret(state_dir: Path) -> str:
    """The local simulator's webhook secret, generated (random, 256 bits, file mode 0600) on first use and kept in the
    state directory, so the simulator ``infra up`` starts and every receiver on this machine agree without a setting."""
    path = local_secret_path(state_dir)
    existing = _read_secret_file(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    try:
        # O_EXCL: two processes generating at once keep the first one's secret, never half of each.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret_file(path)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value
