"""Kafka client settings: what every producer and consumer of the runtime is built with."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from common.config import Settings
from common.kafka_clients import producer_config


def test_producers_write_uncompressed_batches_unless_told() -> None:
    assert producer_config(Settings())["compression.type"] == "none"


def test_the_compression_setting_reaches_every_producer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURRIER_KAFKA_COMPRESSION", "zstd")
    config = producer_config(Settings(), "courrier-consent-1")
    assert config["compression.type"] == "zstd" and config["transactional.id"] == "courrier-consent-1"


def test_an_unknown_compression_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURRIER_KAFKA_COMPRESSION", "brotli")
    with pytest.raises(ValidationError, match="kafka_compression"):
        Settings()
