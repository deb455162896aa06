"""Settings from environment variables and an optional TOML file (``courrier.toml`` or ``$COURRIER_CONFIG``).

External parts win: when ``KAFKA_BOOTSTRAP_SERVERS``, ``SCHEMA_REGISTRY_URL`` or
``S3_ENDPOINT_URL`` is set, Courrier uses it and starts nothing for that part.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


def _config_file() -> Path:
    return Path(os.environ.get("COURRIER_CONFIG", "courrier.toml"))


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "courrier"


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
    smpp_password: str = "jpwd"
    smpp_decimal_receipt_ids: bool | None = Field(
        None, description="The SMSC writes the hex ids of submit_sm_resp in decimal in its receipts, as jsmpp's simulator does; "
        "unset means: only for the local simulator.")
    smpp_window: int = Field(10, description="Outstanding submit_sm per bind (the SMSC answers ESME_RTHROTTLED past its limit).")
    s3_access_key: str = "courrier"
    s3_secret_key: str = "courrier-secret"
    s3_region: str = "us-east-1"
    media_bucket: str = "courrier-media"

    topic_prefix: str = Field("", description="Prepended to every topic name, to run several pipelines on one cluster.")
    partitions: int = Field(6, description="Default partition count for topics that do not set their own.")
    replication_factor: int = 1
    instance_id: str | None = Field(
        None, description="Stable id of this stage instance (e.g. a StatefulSet pod name); with --exactly-once a restarted "
        "instance with the same id fences its dead predecessor at once instead of waiting for its transaction to time out.")
    metrics_port: int = Field(0, description="Port for /metrics and /healthz of a stage; 0 picks a free one.")
    log_level: str = "INFO"
    rcs_text_max_chars: int = Field(2000, ge=1, description="Longest RCS text message, in characters (the product docs we follow say 2,000).")
    templates_dir: Path | None = Field(None, description="Folder of template files; the bundled examples when unset.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file()))

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
    def smpp_receipt_ids_decimal(self) -> bool:
        return self.smpp_decimal_receipt_ids if self.smpp_decimal_receipt_ids is not None else self.smpp_host is None

    def topic(self, name: str) -> str:
        """The physical topic name for a logical topic of the topology."""
        return f"{self.topic_prefix}{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
