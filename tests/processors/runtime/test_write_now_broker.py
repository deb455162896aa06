"""The one durable write of commands: ``write_now`` returns once the broker has every record, or says what to run."""
from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest

from common.config import Settings
from common.errors import UnreachableError
from processors.access.keys import new_key
from processors.access.store import KEYS_TOPIC
from processors.runtime.publisher import write_now
from processors.runtime.stage import Output
from processors.runtime.snapshot import read_row, snapshot


def test_what_write_now_returned_from_is_on_the_topic(topic_settings: Settings) -> None:
    made = [new_key(f"k{i}", ("messages:send",), datetime.now(timezone.utc)) for i in range(3)]
    write_now(topic_settings, [Output(KEYS_TOPIC, key.key_id, key.record) for key in made])
    rows = snapshot(topic_settings, KEYS_TOPIC)
    assert {key.key_id for key in made} <= set(rows)
    assert read_row(topic_settings, KEYS_TOPIC, made[0].key_id)["name"] == "k0"  # type: ignore[index]
    assert read_row(topic_settings, KEYS_TOPIC, "no-such-key") is None


def test_a_broker_that_never_answers_is_one_error_naming_it_and_what_to_run(real_parts: Settings) -> None:
    with socket.socket() as closed:  # a loopback port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    nowhere = real_parts.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{port}"})
    made = new_key("k", ("messages:send",), datetime.now(timezone.utc))
    with pytest.raises(UnreachableError, match=rf"127\.0\.0\.1:{port} did not take the record .*courrier infra up kafka"):
        write_now(nowhere, [Output(KEYS_TOPIC, made.key_id, made.record)], timeout_s=1.0)
