"""An SMPP provider's settings: a configuration file's ``[providers.<name>]`` table (``kind = "smpp"``), over
``COURRIER_SMPP_*`` in the environment, over the older ``Settings`` fields (``smpp_address``, ``smpp_system_id``,
``smpp_window``, ``smpp_decimal_receipt_ids``) for what neither gives.

The password is a ``SecretStr`` (never in ``repr`` or a log line) and never written in the file: ``password_env =
"VAR"`` or ``password_file = "/path"`` (the file wins), or ``COURRIER_SMPP_PASSWORD`` / ``_FILE``; only a peer on
loopback (the local SMSC) may go without one. TLS (``tls = true``) verifies the SMSC's certificate against
``tls_ca_file`` (default: the system's CAs) and its name (``tls_server_name``, default the host) unless ``tls_verify =
false``; ``tls_cert_file``/``tls_key_file`` present a client certificate to an SMSC that asks for one. ``binds`` is a
number of binds to ``host:port`` or a list of ``{host, port, window}`` tables, each bind with its own window.
"""
from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import CourrierError
from processors.providers.smpp.adapter import BindPlan
from processors.providers.secrets import secret_value

if TYPE_CHECKING:
    from common.config import Settings

ENV = "COURRIER_SMPP_"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SmppConfigError(CourrierError):
    """An SMPP setting is missing or unreadable; the message names it and never holds a secret."""


class BindOptions(BaseModel):
    """One bind of a provider with ``binds = [...]``: where it goes and its window (absent: the provider's)."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    window: int | None = Field(None, ge=1)


class SmppSettings(BaseSettings):
    """One SMSC account: where it is, who we are, how many binds and how each behaves, TLS."""

    model_config = SettingsConfigDict(env_prefix=ENV, extra="ignore")

    host: str = Field("127.0.0.1", description="The SMSC's host.")
    port: int = Field(2775, ge=1, le=65535, description="The SMSC's SMPP port (often 3550 or 2776 for TLS).")
    system_id: str = Field("", max_length=15, description="Our system_id: the bind's user name.")
    password: SecretStr = Field(SecretStr(""), description="The bind password (at most 8 characters in SMPP 3.4).")
    password_file: Path | None = Field(None, description="A file holding the bind password (wins over password).")
    system_type: str = Field("", max_length=12, description="The bind's system_type, when the SMSC asks for one.")
    window: int = Field(10, ge=1, description="Outstanding submit_sm per bind (the SMSC throttles past its limit).")
    binds: int | list[BindOptions] = Field(1, description="How many binds (each its own window), or one table per bind.")
    tls: bool = Field(False, description="Wrap every bind's connection in TLS.")
    tls_ca_file: Path | None = Field(None, description="CA certificates (PEM) the SMSC's certificate must chain to; "
                                                       "default: the system's.")
    tls_verify: bool = Field(True, description="Check the SMSC's certificate and name (false only for a test peer).")
    tls_server_name: str | None = Field(None, description="The name the SMSC's certificate must carry (default: host).")
    tls_cert_file: Path | None = Field(None, description="Our client certificate (PEM), for an SMSC that asks for one.")
    tls_key_file: Path | None = Field(None, description="The client certificate's private key (PEM; default: in the cert file).")
    decimal_receipt_ids: bool = Field(False, description="The SMSC writes submit_sm_resp's hex ids in decimal in receipts.")
    enquire_link_s: float = Field(30.0, gt=0, description="Seconds between two enquire_link; one unanswered drops the bind.")
    bind_timeout_s: float = Field(10.0, gt=0, description="Seconds for each step of a bind (connect, TLS, bind_transceiver).")
    bind_attempts: int = Field(5, ge=1, description="Binds tried, with backoff, before a bind is called unreachable.")
    throttle_resends: int | None = Field(None, ge=0, description="A part throttled more often than this ends its message "
                                                                 "transient (retried later); unset: resent while time remains.")

    @classmethod
    def of(cls, options: dict[str, object], settings: "Settings") -> SmppSettings:
        """The options as given, over the environment, over ``settings``' older SMPP fields (which read the same
        ``COURRIER_SMPP_HOST``, ``_PORT``, ``_SYSTEM_ID``, ``_WINDOW`` and ``_DECIMAL_RECEIPT_IDS``)."""
        host, port = settings.smpp_address
        older: dict[str, object] = {"host": host, "port": port, "system_id": settings.smpp_system_id,
                                    "window": settings.smpp_window, "decimal_receipt_ids": settings.smpp_decimal_receipt_ids}
        return cls(**{**older, **options})

    def password_value(self) -> str:
        """The bind password; ``SmppConfigError`` naming the setting when a peer off loopback has none."""
        value = secret_value(self.password, self.password_file, f"{ENV}PASSWORD", SmppConfigError, None)
        if value is not None:
            return value
        if self.host.strip("[]").lower() in LOOPBACK:
            from common.config import LOCAL_SMPP_PASSWORD

            return LOCAL_SMPP_PASSWORD
        raise SmppConfigError(f"{ENV}PASSWORD (password_env or password_file in the provider's table) is not set: "
                              f"the bind password for {self.host}:{self.port} is required")

    def tls_context(self) -> ssl.SSLContext | None:
        """The context every bind's connection is wrapped in, None without TLS; ``SmppConfigError`` naming an
        unreadable file."""
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=str(self.tls_ca_file) if self.tls_ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise SmppConfigError(f"{ENV}TLS_CA_FILE (tls_ca_file) {str(self.tls_ca_file)!r} is unreadable or not PEM "
                                  f"({type(exc).__name__})") from None
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.tls_cert_file is not None:
            try:
                context.load_cert_chain(str(self.tls_cert_file), str(self.tls_key_file) if self.tls_key_file else None)
            except (OSError, ssl.SSLError) as exc:
                raise SmppConfigError(f"{ENV}TLS_CERT_FILE / TLS_KEY_FILE (tls_cert_file, tls_key_file) cannot be loaded "
                                      f"({type(exc).__name__})") from None
        elif self.tls_key_file is not None:
            raise SmppConfigError(f"{ENV}TLS_KEY_FILE (tls_key_file) is set without {ENV}TLS_CERT_FILE (tls_cert_file)")
        return context

    def bind_plans(self) -> int | list[BindPlan]:
        """``binds`` as the adapter takes it."""
        if isinstance(self.binds, int):
            if self.binds < 1:
                raise SmppConfigError(f"{ENV}BINDS (binds) must be at least 1, not {self.binds}")
            return self.binds
        if not self.binds:
            raise SmppConfigError(f"{ENV}BINDS (binds) lists no bind")
        return [BindPlan(b.host, b.port, b.window) for b in self.binds]
