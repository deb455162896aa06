"""Through the broker: render writes a message's short link to ``links``; a click on it redirects and comes back as a
``CLICKED`` receipt on ``receipt``."""
from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import httpx
from confluent_kafka import Consumer, Producer

from common.config import Settings
from common.kafka_clients import consumer_config, producer_config
from processors.links.app import create_app
from processors.render.stage import RenderStage
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event
from tests.serving import served

E164 = "+33612345678"


@contextmanager
def running(runner: Runner) -> Iterator[None]:
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        runner.stop()
        thread.join(30)


def read_until(settings: Settings, serde: AvroSerde, logical: str, wanted: Callable[[Event], bool], timeout_s: float = 60.0) -> Event | None:
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4()}"))
    consumer.subscribe([settings.topic(logical)])
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for message in consumer.consume(100, 0.2):
                if message.error() is None and wanted(value := serde.decode(logical, message.value())):
                    return value
        return None
    finally:
        consumer.close()


def channel_resolved(message_id: str) -> Event:
    now = datetime.now(timezone.utc)
    return {
        "context": {"message_id": message_id, "idempotency_key": None, "campaign_id": "autumn", "variant": "A", "lane": "TRANSACTIONAL",
                    "subscription_group": None, "requested_at": now, "source": "test"},
        "recipient": {"e164": E164, "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"},
        "template_id": "order_shipped", "variables": {"first_name": "Léa", "order_id": "FR-42"}, "channel_policy": "SMS",
        "channel": "SMS", "fallback_reason": None,
        "sender": {"sender_id": "COURRIER", "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": 10.0},
        "expires_at": None, "locale": None,
    }


def test_a_click_on_a_rendered_short_link_is_a_clicked_receipt(topic_settings: Settings) -> None:
    settings = topic_settings
    serde = AvroSerde(settings.registry_url, settings.topic)
    message_id = str(uuid.uuid4())
    with served(create_app(settings), "links") as base, running(Runner(RenderStage(link_domain=base), settings,
                                                       RunnerOptions(batch_size=50, metrics_port=0))):
        producer = Producer(producer_config(settings))
        producer.produce(settings.topic("channel-resolved"), key=E164, value=serde.encode("channel-resolved", channel_resolved(message_id)))
        producer.flush(30)
        rendered = read_until(settings, serde, "rendered-transactional", lambda r: r["context"]["message_id"] == message_id)  # its lane's topic
        assert rendered is not None
        text = rendered["sms"]["text"]
        short = re.search(rf"{re.escape(base)}/([0-9A-Za-z]{{12}})", text)
        assert short is not None and text == f"Bonjour Léa, votre commande FR-42 est en route. Suivi : {short.group(0)}"
        link = read_until(settings, serde, "links", lambda r: r["token"] == short.group(1))
        assert link is not None and (link["url"], link["recipient"], link["context"]["campaign_id"]) == (
            "https://example.com/t/FR-42", E164, "autumn")

        with httpx.Client(follow_redirects=False, timeout=10) as client:
            deadline = time.monotonic() + 30
            response = client.get(short.group(0))
            while response.status_code == 404 and time.monotonic() < deadline:  # the service's table follows the topic
                time.sleep(0.1)
                response = client.get(short.group(0))
            assert (response.status_code, response.headers["location"]) == (302, "https://example.com/t/FR-42")
            assert client.get(f"{base}/000000000000").status_code == 404

    clicked = read_until(settings, serde, "receipt", lambda r: r["status"] == "CLICKED" and r["context"]["message_id"] == message_id)
    assert clicked is not None
    assert (clicked["recipient"], clicked["stage"], clicked["terminal"], clicked["detail"], clicked["channel"]) == (
        E164, "links", False, "https://example.com/t/FR-42", "SMS")
    assert (clicked["context"]["campaign_id"], clicked["context"]["variant"]) == ("autumn", "A")
