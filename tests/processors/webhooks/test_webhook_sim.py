"""The provider simulator's real webhooks into the receiver (run as `courrier webhooks serve`, as the pipeline starts it),
through the broker to the receipt stage: duplicated, reordered, failed and read events end as one truthful receipt
stream per message, and an inbound message reaches ``inbound``."""
from __future__ import annotations

import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from webhook_helpers import SECRET
from webhook_server import produce, read_until, running

from common.config import Settings
from courrier.processes import StageProcess, start_webhooks
from processors.receipt.stage import ReceiptStage
from processors.receipt.statuses import ENGAGEMENT, STEP
from processors.runtime.policy import RetryPolicy
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.table import TopicTable
from processors.scheduler.scheduler import Scheduler
from sim.simulator import SimOptions
from sim.testing import SimControl, private_sim

FAULTS = {"seed": 11, "delivery_delay_ms": 50, "read_delay_ms": 50, "duplicate_rate": 0.5, "reorder": True, "sent_events": True,
          "undelivered_rate": 0.2, "expired_rate": 0.1, "read_rate": 1.0}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def settings(topic_settings: Settings) -> Settings:
    return topic_settings.model_copy(update={"webhook_secret": SecretStr(SECRET)})


@pytest.fixture
def receiver(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The receiver as its own process; yields its webhook URL once it answers."""
    port = free_port()
    process: StageProcess = start_webhooks(settings, tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and process.alive():
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert process.alive(), process.log_path.read_text()[-2000:]
        yield f"{url}/webhooks/sim"
    finally:
        process.terminate()


def send(sim: SimControl, message_id: str, e164: str, rcs: bool) -> str:
    """Send through the simulator as the HTTP dispatcher would; the provider's message id."""
    headers = {"Authorization": f"Bearer {sim.token}"}
    if rcs:
        answer = httpx.post(f"{sim.url}/v1/phones/{e164}/agentMessages", params={"messageId": message_id},
                            json={"contentMessage": {"text": "Your order shipped"}}, headers=headers, timeout=10)
        answer.raise_for_status()
        return answer.json()["name"].rsplit("/", 1)[1]
    answer = httpx.post(f"{sim.url}/v1/messages", json={"channel": "sms", "from": "COURRIER", "to": e164, "text": "Your order shipped",
                                                       "client_ref": message_id}, headers=headers, timeout=10)
    answer.raise_for_status()
    return answer.json()["id"]


def dispatched(message_id: str, e164: str, rcs: bool, provider_id: str) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    return {
        "context": {"message_id": message_id, "lane": "TRANSACTIONAL", "requested_at": now, "source": "test"},
        "recipient": {"e164": e164, "region": "FR", "number_type": "mobile", "time_zone": None},
        "channel": "RCS" if rcs else "SMS", "fallback_reason": None,
        "sender": {"sender_id": "COURRIER", "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": 10.0},
        "provider": "http:sim", "provider_message_ids": [provider_id], "segments": 1, "submitted_at": now,
    }


def test_simulator_events_become_one_truthful_receipt_stream_per_message(settings: Settings, receiver: str) -> None:
    table = TopicTable(settings, "message-state")
    table.start()
    options = RunnerOptions(batch_size=100, metrics_port=0, retry=RetryPolicy(max_attempts=6, base_delay_s=0.3, max_delay_s=1.0))
    messages = {f"m-{uuid.uuid4().hex[:8]}": (f"+3361234{i:04d}1", i % 2 == 0) for i in range(20)}  # ends in 1: RCS-capable
    with running(Runner(ReceiptStage(table), settings, options), Scheduler(settings, metrics_port=0)), \
            private_sim(SimOptions(webhook_url=receiver, webhook_secret=SECRET), **FAULTS) as sim:
        for message_id, (e164, rcs) in messages.items():
            provider_id = send(sim, message_id, e164, rcs)
            # dispatch announces a message after the provider's answer: its first events may already be on their way
            produce(settings, "dispatched", e164, dispatched(message_id, e164, rcs, provider_id))
        sim.inbound("+33612340001", "COURRIER", "STOP")

        def settled(found: list) -> bool:
            terminal = {v["context"]["message_id"] for _k, v, _h in found if v["terminal"]}
            return terminal >= set(messages)

        found = read_until(settings, "receipt", settled, timeout_s=120)
        stats = sim.stats()
        inbound = read_until(settings, "inbound", lambda rows: len(rows) >= 1)
    table.stop()

    by_message: dict[str, list[dict]] = defaultdict(list)
    for _key, value, _headers in found:
        by_message[value["context"]["message_id"]].append(value)
    assert set(by_message) == set(messages)
    outcomes = defaultdict(int)
    for message_id, receipts in by_message.items():
        statuses = [r["status"] for r in receipts]
        terminal = [r for r in receipts if r["terminal"]]
        assert len(terminal) == 1, (message_id, statuses)
        assert [STEP[s] for s in statuses] == sorted(STEP[s] for s in statuses), statuses
        assert all(s in ENGAGEMENT for s in statuses[statuses.index(terminal[0]["status"]) + 1:]), statuses
        assert statuses[0] == "SENT" and receipts[0]["cost_micros"] is not None
        outcome = terminal[0]
        outcomes[outcome["status"]] += 1
        assert outcome["channel"] == ("RCS" if messages[message_id][1] else "SMS")
        assert outcome["reason"] == {"DELIVERED": None, "UNDELIVERED": "unreachable_handset", "EXPIRED": "rcs_ttl_expired"}[outcome["status"]]
    assert outcomes["DELIVERED"] > 0 and sum(outcomes.values()) == len(messages)
    assert stats["webhooks"]["failed"] == 0 and stats["webhooks"]["posted"] > len(messages), "every event was answered 2xx in the end"
    [(key, message, _)] = inbound
    assert (key, message["text"], message["to_sender_id"]) == ("+33612340001", "STOP", "COURRIER")
