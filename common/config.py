"""Settings from environment variables and an optional TOML file (``courrier.toml`` or ``$COURRIER_CONFIG``).

External parts win: when ``KAFKA_BOOTSTRAP_SERVERS``, ``SCHEMA_REGISTRY_URL`` or
``S3_ENDPOINT_URL`` is set, Courrier uses it and starts nothing for that part.

Secrets (``SECRETS``) are ``SecretStr``: they print as ``**********``. Each comes from its environment variable or
from a file named by its ``*_FILE`` variable (``COURRIER_WEBHOOK_SECRET_FILE``), never from the configuration
file, and none is built in: a service that needs one and finds none stops with one line naming the setting
(``SecretMissing``). Two rules soften that for the local parts only (loopback test doubles, nothing real behind them):
the local SMSC's, S3's and simulator's own credentials are used while the peer is on loopback, and the
webhook secret falls back to the one ``courrier infra up`` generated into the state directory for the local simulator.

The file is strict: an unknown key, a secret written inline or a value of the wrong type is a ``ConfigError``
naming the file, the key and what is expected.
"""
from __future__ import annotations

import os
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from common.config_file import StrictTomlSource, readable_errors
from common.secret_settings import (  # ConfigError and SecretMissing: the errors callers of common.config catch
    _SECRET_BY_FIELD, SECRETS, ConfigError, SecretMissing, _read_secret_file, local_secret_path,
)

MASK = "********"

# `courrier config check FILE` reads FILE instead of $COURRIER_CONFIG for the one Settings it builds.
_config_override: ContextVar[Path | None] = ContextVar("courrier_config_override", default=None)


# The local parts' own credentials: what infra/parts/ starts them with (SMSC) or what they accept (simulator,
# SeaweedFS). Used only while the peer is on loopback (the local parts, or a test's own private ones): they guard test
# doubles, nothing real. A peer anywhere else gets no built-in credential: its secret must be set.
LOCAL_SMPP_PASSWORD = "jpwd"
LOCAL_SIM_TOKEN = "courrier-dev-token"
LOCAL_S3_SECRET_KEY = "courrier-secret"


def _is_loopback(host: str | None) -> bool:
    return (host or "").strip("[]").lower() in ("127.0.0.1", "localhost", "::1")


def config_file() -> Path:
    """The configuration file settings are read from: ``courrier config check``'s, else ``$COURRIER_CONFIG``, else
    ``courrier.toml`` (it need not exist)."""
    override = _config_override.get()
    return override if override is not None else Path(os.environ.get("COURRIER_CONFIG", "courrier.toml"))


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "courrier"


def _secret_field(env: str, key: str, purpose: str) -> Any:
    """A ``SecretStr | None`` field read from ``env`` (or ``key`` in code)."""
    return Field(None, validation_alias=AliasChoices(env, key),
                 description=f"{purpose.capitalize()}; or its file in {env}_FILE. Never in the configuration file.")


def _secret_file_field(env: str) -> Any:
    return Field(None, description=f"A file holding {env} (its first line), e.g. a mounted Kubernetes or Docker secret.")


class Settings(BaseSettings):
    """Every knob Courrier reads; env vars are ``COURRIER_<FIELD>`` unless an alias says otherwise."""

    model_config = SettingsConfigDict(env_prefix="COURRIER_", extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str | None = Field(
        None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
        description="External Kafka; when unset the local broker is used (and started by `infra up`).")
    schema_registry_url: str | None = Field(
        None, validation_alias=AliasChoices("SCHEMA_REGISTRY_URL", "schema_registry_url"),
        description="External Confluent-compatible registry; when unset the local Apicurio is used.")
    s3_endpoint_url: str | None = Field(
        None, validation_alias=AliasChoices("S3_ENDPOINT_URL", "s3_endpoint_url"),
        description="External S3 endpoint; when unset the local SeaweedFS is used.")
    smpp_host: str | None = Field(None, description="External SMPP peer host; when unset the local jsmpp simulator is used.")

    state_dir: Path = Field(default_factory=_default_state_dir, description="Where fetched jars, data and logs of local parts live.")
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    registry_port: int = 18081
    s3_port: int = 8333
    smpp_port: int = 2775
    smpp_system_id: str = "j"
    smpp_password_secret: SecretStr | None = _secret_field("COURRIER_SMPP_PASSWORD", "smpp_password", "the SMPP bind password "
                                                           "(the local SMSC's own while every SMPP peer is on loopback)")
    smpp_password_file: Path | None = _secret_file_field("COURRIER_SMPP_PASSWORD")
    smpp_decimal_receipt_ids: bool = Field(
        False, description="The SMSC writes the hex ids of submit_sm_resp in decimal in its receipts, as jsmpp's example simulator does.")
    smsc_control_port: int = Field(12775, description="The local SMSC's control port: submission journal, stats, mobile-originated injection.")
    smsc_receipt_delay_ms: int = Field(200, description="How long the local SMSC waits before sending a delivery receipt.")
    smsc_undeliverable_suffixes: str = Field("", description="Comma-separated destination suffixes the local SMSC reports UNDELIV for.")
    smpp_window: int = Field(10, description="Outstanding submit_sm per bind (the SMSC answers ESME_RTHROTTLED past its limit).")
    smpp_failover: str | None = Field(None, description="host:port of a second SMPP peer dispatch fails over to while the first one's breaker is open.")
    lanes: str = Field("transactional,marketing", validation_alias=AliasChoices("COURRIER_LANES", "COURRIER_DISPATCH_LANES", "lanes"),
                       description="Lanes one process of a chain stage (consent, channel, render, dispatch) serves, each with its "
                       "own consumer: transactional reads the -transactional topics, marketing the chain's first ones. "
                       "COURRIER_DISPATCH_LANES, its earlier name, is read too.")
    dispatch_pacing: bool = Field(True, description="Pace every sender to its limit in segments per second; off only against a simulator (benchmarks).")
    dispatch_pacing_file: Path | None = Field(None, description="Pacing limits (JSON); processors/dispatch/data/pacing.json when unset.")
    dispatch_hold_s: float = Field(1.0, gt=0, le=60, description="Longest a batch holds a message for its sender's budget; "
                                   "longer waits go to the retry topic, in order.")
    dispatch_wave_size: int = Field(200, ge=1, le=10_000, description="Most messages dispatch marks SUBMITTING in one ledger "
                                    "write before submitting them: what a crash can leave with an unknown outcome (SMPP: failed).")
    dispatch_breaker_failures: int = Field(5, ge=1, le=20, description="Failed answers among a provider's last 20 that open its circuit breaker.")
    dispatch_breaker_cooldown_s: float = Field(10.0, gt=0, description="How long an open breaker keeps traffic away before one trial call.")
    dispatch_providers: str = Field("smpp", description="Dispatch's providers in order of preference: smpp (SMS to the SMPP peer, "
                                    "then COURRIER_SMPP_FAILOVER when set), http (aggregator SMS and MMS, RBM RCS, at COURRIER_SIM_URL).")
    s3_access_key: str = "courrier"
    s3_secret_key_secret: SecretStr | None = _secret_field("COURRIER_S3_SECRET_KEY", "s3_secret_key", "the S3 secret access key "
                                                           "(a placeholder the local SeaweedFS accepts while S3 is on loopback)")
    s3_secret_key_file: Path | None = _secret_file_field("COURRIER_S3_SECRET_KEY")
    s3_region: str = "us-east-1"
    media_bucket: str = "courrier-media"
    sim_url: str | None = Field(None, description="External provider simulator (base URL); when unset the local one is used.")
    sim_port: int = Field(18090, description="Port of the local provider simulator (RBM- and aggregator-shaped HTTP API).")
    sim_token_secret: SecretStr | None = _secret_field("COURRIER_SIM_TOKEN", "sim_token", "the bearer token of the HTTP provider "
                                                       "APIs (the local simulator's own while they are on loopback)")
    sim_token_file: Path | None = _secret_file_field("COURRIER_SIM_TOKEN")
    sim_webhook_url: str = Field("http://127.0.0.1:18091/webhooks/sim", description="Where the simulator posts its events.")
    webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key of provider webhook signatures (the receiver checks, the simulator signs); or its file "
        "in COURRIER_WEBHOOK_SECRET_FILE; else the one `courrier infra up` generated for the local simulator. No default.")
    webhook_secret_file: Path | None = _secret_file_field("COURRIER_WEBHOOK_SECRET")
    suppression_salt: SecretStr | None = Field(None, description="Salt of the suppressions topic's keys (sha256 of salt|E.164, "
                                               "courrier consent forget); a built-in one when unset. Never change it once set.")
    rbm_url: str | None = Field(
        None, description="Base URL of the RBM-shaped API for RCS capability checks (e.g. the simulator, http://127.0.0.1:18090); "
        "when unset there is no RCS provider and every RCS capability is unknown.")
    rcs_capability_ttl_s: float = Field(86400.0, ge=0, description="How long a channel instance trusts an 'RCS-capable' answer.")
    rcs_capability_negative_ttl_s: float = Field(3600.0, ge=0, description="How long it trusts a 'not RCS-capable' answer.")
    rcs_capability_cache_size: int = Field(100_000, ge=1, description="Numbers whose RCS capability a channel instance remembers.")
    rcs_capability_timeout_s: float = Field(2.0, gt=0, description="Longest wait for the capability API before the answer is 'unknown'.")
    rcs_sms_fallback_after_s: int = Field(
        300, ge=1, le=7 * 86400, description="RCS with SMS fallback: seconds an RCS message may go without a delivery "
        "report before the SMS is sent instead (sooner when the provider reports it undelivered or expired).")
    mms_regions: str = Field("US,CA", description="Comma-separated regions where MMS is sent as MMS; elsewhere it becomes an SMS with a link.")

    topic_prefix: str = Field("", description="Prepended to every topic name, to run several pipelines on one cluster.")
    broker_timeout_s: float = Field(10.0, gt=0, le=300, description="How long a stage or command waits for the broker "
                                    "to answer at start before it stops with one line saying what to run.")
    session_timeout_ms: int = Field(10_000, ge=6_000, le=300_000, description="How long a consumer group waits for a silent "
                                    "member before giving its partitions to another (a killed stage's downtime).")
    kafka_compression: Literal["none", "lz4", "zstd", "snappy", "gzip"] = Field(
        "none", description="Compression of every record batch Courrier writes. none by default: records of a few hundred "
        "bytes in batches of a few milliseconds gain little, and the broker decompresses every batch to check it "
        "(`bench chain`: broker CPU 13.0 s with lz4, 9.5 s without, for 20,000 messages). Set lz4 or zstd when the "
        "network or the disk between you and the broker is what costs.")
    partitions: int = Field(6, description="Default partition count for topics that do not set their own.")
    replication_factor: int = 1
    instance_id: str | None = Field(
        None, description="Stable id of this stage instance (e.g. a StatefulSet pod name); with --exactly-once a restarted "
        "instance with the same id fences its dead predecessor at once instead of waiting for its transaction to time out.")
    metrics_port: int = Field(0, description="Port for /metrics and /healthz of a stage; 0 picks a free one.")
    metrics_host: str = Field("127.0.0.1", description="Address a stage serves /metrics and /healthz on: 127.0.0.1 keeps them "
                              "on this machine; 0.0.0.0 lets a Prometheus (or kubelet) in another pod or host reach them.")
    log_level: str = "INFO"
    rcs_text_max_chars: int = Field(2000, ge=1, description="Longest RCS text message, in characters (the product docs we follow say 2,000).")
    templates_dir: Path | None = Field(None, description="Folder of template files seeding the template store (the ids it "
                                       "lacks, at each reader's start); the bundled examples when unset.")
    quiet_hours_enabled: bool = Field(
        True, description="Defer marketing messages outside the recipient's allowed local hours; turn off only where no "
        "person receives anything (demos, load tests).")
    quiet_hours_file: Path | None = Field(None, description="Quiet-hour rules per country (TOML); the bundled ones when unset.")
    frequency_cap_max: int = Field(3, ge=0, description="Marketing messages a recipient may receive per subscription group "
                                   "within the window, for groups the caps file does not name; 0 means no cap.")
    frequency_cap_window_days: float = Field(7.0, gt=0, le=30, description="The default frequency cap's sliding window, in days.")
    frequency_caps_file: Path | None = Field(None, description="Frequency caps per subscription group (TOML); the bundled ones when unset.")
    fraud_guard: bool = Field(False, description="The consent stage suppresses suspected SMS pumping (fraud_suspected): bursts to one "
                              "destination prefix or country over their baseline, with poor OTP conversion.")
    fraud_file: Path | None = Field(None, description="SMS pumping thresholds (TOML); processors/rules/data/fraud.toml when unset.")
    link_domain: str | None = Field(
        None, description="Base URL of short links (e.g. https://go.example.com, served by `courrier links serve`); "
        "when unset, URLs in SMS texts are sent as written and clicks are not tracked.")
    media_allow_hosts: str = Field(
        "", description="Comma-separated host or host:port a media fetch may reach whatever they resolve to (e.g. "
        "127.0.0.1:8000); the only way past the SSRF rules (public addresses, ports 80 and 443).")
    media_max_fetch_bytes: int = Field(10 * 1024 * 1024, ge=1, description="Largest media download, in bytes; more is media_too_large.")
    media_fetch_timeout_s: float = Field(30.0, gt=0, description="Longest a media fetch may take, redirects included.")
    media_public_url: str | None = Field(
        None, description="Base URL providers and recipients fetch stored media from (a CDN or the bucket's public "
        "address); default: the S3 endpoint + bucket.")
    media_cache_ttl_s: float = Field(300.0, ge=0, description="How long a render instance reuses a media URL's stored copy.")
    campaign_cancel_check_s: float = Field(1.0, gt=0, description="How often a running `campaign send` looks for a cancel of its "
                                           "campaign in the campaigns topic, in seconds.")
    key_rate_per_s: float = Field(100.0, gt=0, description="API keys: default token-bucket refill, messages per second (a key may set its own).")
    key_burst: int = Field(1000, ge=1, description="API keys: default token-bucket size in messages (one full batch).")
    key_rate_instances: int = Field(1, ge=1, description="HTTP instances sharing each key's limit: each enforces rate/N and burst/N.")
    key_usage_flush_s: float = Field(60.0, gt=0, description="How often an HTTP instance publishes its keys' last-used times.")
    insecure_no_auth: bool = Field(False, description="Serve the HTTP API without API keys (loopback only, logged); for local development.")
    test_numbers: str = Field("", description="E.164 numbers, comma-separated, a test send (courrier templates test-send, "
                              "POST /v1/test-sends) may go to; no other number ever receives one.")
    conversion_window_days: int = Field(7, ge=1, le=90, description="POST /v1/conversions attributes a conversion to a message only "
                                        "this many days after the message left (later: 422 outside_window).")
    default_validity_s: int = Field(
        86_400, ge=60, le=30 * 86_400, description="Validity of a message whose request gave none: dispatch retries it while no "
        "provider can take it until requested_at plus this, and submits it valid this long (SMPP validity_period, RBM expireTime).")
    report_grace_s: float = Field(3600.0, ge=0, description="How long after an SMS or MMS's validity ends dispatch's deadline "
                                  "waits for its delivery report; then the receipt stage ends it UNKNOWN (no_delivery_report).")
    report_grace_by_provider: str = Field("", description="Per-provider report grace overriding COURRIER_REPORT_GRACE_S: "
                                          "comma-separated name=seconds, names as dispatch writes them (http:sim=600).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, StrictTomlSource(settings_cls, config_file()))

    @field_validator("webhook_secret", "sim_token_secret", "smpp_password_secret", "s3_secret_key_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # `export COURRIER_WEBHOOK_SECRET=` means "no secret", not "sign with the empty key".
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if isinstance(raw, str) and not raw.strip() else value

    @field_validator("webhook_secret_file", "sim_token_file", "smpp_password_file", "s3_secret_key_file")
    @classmethod
    def _readable_secret_file(cls, path: Path | None) -> Path | None:
        if path is not None and not _read_secret_file(path):
            raise ValueError(f"{path} is missing, unreadable or empty: expected a file holding the secret on its first line")
        return path

    @model_validator(mode="after")
    def _resolve_secrets(self) -> "Settings":
        """Fill each secret not given directly from its file, then the webhook secret from the state directory."""
        for spec in SECRETS:
            path = getattr(self, spec.file_field)
            if getattr(self, spec.field) is None and path is not None:
                setattr(self, spec.field, SecretStr(_read_secret_file(path)))
        if self.webhook_secret is None:
            generated = _read_secret_file(local_secret_path(self.state_dir))
            if generated:
                self.webhook_secret = SecretStr(generated)
        return self

    def secret(self, field: str) -> str:
        """The plain value of the secret ``field`` (a name in ``SECRETS``), to hand to the one client that sends it;
        ``SecretMissing`` naming the variable when no setting gives it."""
        spec = _SECRET_BY_FIELD[field]
        value: SecretStr | None = getattr(self, field)
        if value is None:
            raise SecretMissing(f"{spec.env} is not set: {spec.purpose}; set it, or {spec.env}_FILE to a file holding it")
        return value.get_secret_value()

    @property
    def sim_is_local(self) -> bool:
        """The HTTP provider APIs (``sim_address``, ``rbm_url``) are on loopback: the local simulator or a test's own."""
        return all(_is_loopback(urlsplit(url).hostname) for url in (self.sim_address, self.rbm_url or self.sim_address))

    @property
    def smpp_is_local(self) -> bool:
        """Every SMPP peer (``smpp_host``, ``smpp_failover``) is on loopback: the local SMSC or a test's own."""
        failover_host = (self.smpp_failover or "127.0.0.1:0").rsplit(":", 1)[0]
        return _is_loopback(self.smpp_address[0]) and _is_loopback(failover_host)

    @property
    def s3_is_local(self) -> bool:
        """The S3 endpoint is on loopback: the local SeaweedFS."""
        return _is_loopback(urlsplit(self.s3_url).hostname)

    @property
    def sim_token(self) -> str:
        """The HTTP provider APIs' bearer token: the configured one, else the local simulator's own while the APIs are on
        loopback; ``SecretMissing`` for a provider elsewhere without one."""
        return self._secret_or_local("sim_token_secret", LOCAL_SIM_TOKEN if self.sim_is_local else None,
                                     "COURRIER_SIM_URL or COURRIER_RBM_URL is not on loopback")

    @property
    def smpp_password(self) -> str:
        """The SMPP bind password: the configured one, else the local SMSC's own while every peer is on loopback."""
        return self._secret_or_local("smpp_password_secret", LOCAL_SMPP_PASSWORD if self.smpp_is_local else None,
                                     "COURRIER_SMPP_HOST or COURRIER_SMPP_FAILOVER is not on loopback")

    @property
    def s3_secret_key(self) -> str:
        """The S3 secret access key: the configured one, else a placeholder the local SeaweedFS accepts."""
        return self._secret_or_local("s3_secret_key_secret", LOCAL_S3_SECRET_KEY if self.s3_is_local else None,
                                     "S3_ENDPOINT_URL is not on loopback")

    def _secret_or_local(self, field: str, local: str | None, why_needed: str) -> str:
        if getattr(self, field) is None and local is not None:
            return local
        try:
            return self.secret(field)
        except SecretMissing as missing:
            raise SecretMissing(f"{missing} ({why_needed})") from None

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @property
    def registry_url(self) -> str:
        return self.schema_registry_url or f"http://127.0.0.1:{self.registry_port}/apis/ccompat/v7"

    @property
    def s3_url(self) -> str:
        return self.s3_endpoint_url or f"http://127.0.0.1:{self.s3_port}"

    @property
    def smpp_address(self) -> tuple[str, int]:
        return (self.smpp_host or "127.0.0.1", self.smpp_port)

    @property
    def sim_address(self) -> str:
        """Base URL of the provider simulator: the external one, else the local part."""
        return (self.sim_url or f"http://127.0.0.1:{self.sim_port}").rstrip("/")

    @property
    def mms_region_codes(self) -> frozenset[str]:
        return frozenset(code.strip().upper() for code in self.mms_regions.split(",") if code.strip())

    def as_env(self) -> dict[str, str]:
        """Environment variables that give a child process these same settings (every field that has a value)."""
        env: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):  # the child needs the value itself; the environment is not printed
                value = value.get_secret_value()
            alias = field.validation_alias
            key = alias.choices[0] if isinstance(alias, AliasChoices) else f"COURRIER_{name.upper()}"
            env[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
        return env

    def topic(self, name: str) -> str:
        """The physical topic name for a logical topic of the topology."""
        return f"{self.topic_prefix}{name}"


def load_settings(file: Path | None = None) -> Settings:
    """Settings from the environment and ``file`` (default: ``$COURRIER_CONFIG`` or ``courrier.toml``);
    ``ConfigError`` with readable lines when they do not hold."""
    token = _config_override.set(file)
    try:
        path = config_file()
        try:
            return Settings()
        except ValidationError as invalid:
            origin = {key: ("environment" if source.startswith("env") else str(path)) for key, source in raw_sources(path).items()}
            raise ConfigError(readable_errors(invalid, origin)) from None
    finally:
        _config_override.reset(token)


def raw_sources(path: Path) -> dict[str, str]:
    """For each setting given by the environment or the file ``path``: ``env <VARIABLE>`` or ``file``, field names as keys."""
    from pydantic_settings import EnvSettingsSource

    by_key = _field_by_key()
    found: dict[str, str] = {}
    for key in StrictTomlSource(Settings, path).toml_data:
        found[by_key.get(key, key)] = "file"
    for key in EnvSettingsSource(Settings)():
        name = by_key.get(key, key)
        found[name] = f"env {_env_name(name)}"
    return found


def _field_by_key() -> dict[str, str]:
    by_key: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        by_key[name] = name
        if isinstance(field.validation_alias, AliasChoices):
            for choice in field.validation_alias.choices:
                by_key[str(choice)] = name
    return by_key


def _env_name(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    return str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"COURRIER_{name.upper()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; ``ConfigError`` (one line per problem) when they do not hold."""
    return load_settings()
