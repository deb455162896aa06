"""The baselines ``courrier bench chain`` compares the chain against: one hop of a five-hop passthrough.

``raw``: bytes in, bytes out (confluent-kafka alone). ``fastavro``: each record's Avro body decoded into a dict and
encoded again with a parsed schema cached once (``send-requested``'s, the chain's first record), the Confluent header
kept: the least a stage that reads and writes Avro records does. Both at-least-once, in batches of 500, committing
after each flush. Run as ``python -m courrier.passthrough SOURCE TARGET GROUP [raw|fastavro]``; it stops on SIGTERM.
"""
from __future__ import annotations

import io
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from fastavro import schemaless_reader, schemaless_writer

from common.config import get_settings
from common.kafka_clients import consumer_config, producer_config
import schemas

HEADER = 5  # Confluent wire format: magic byte, 4-byte schema id
SCHEMA = "courrier.SendRequested"
Transform = Callable[[bytes], bytes]


def raw(value: bytes) -> bytes:
    return value


def fastavro_hop() -> Transform:
    """Decode and re-encode one framed ``send-requested`` record (the schema parsed once, as a stage does)."""
    parsed = schemas.parsed_schema(SCHEMA)

    def transform(value: bytes) -> bytes:
        record = schemaless_reader(io.BytesIO(value[HEADER:]), parsed, parsed)
        out = io.BytesIO()
        out.write(value[:HEADER])
        schemaless_writer(out, parsed, record)
        return out.getvalue()

    return transform


def sample_record(index: int) -> bytes:
    """A framed ``send-requested`` record like the one ``CourrierClient.send`` writes for an OTP (schema id 0: the
    passthrough never asks a registry)."""
    value = {
        "context": {"message_id": f"00000000-0000-4000-8000-{index:012d}", "idempotency_key": None, "campaign_id": None,
                    "variant": None, "lane": "TRANSACTIONAL", "subscription_group": None,
                    "requested_at": datetime.now(timezone.utc), "source": "bench"},
        "recipient": f"+3361{index % 10**7:07d}", "default_region": None, "template_id": "otp", "variables": {"code": "424242"},
        "channel_policy": "SMS", "send_at": None, "validity_seconds": None, "locale": None, "time_zone": None,
        "sms_fallback_after_s": None,
    }
    out = io.BytesIO()
    out.write(bytes(HEADER))
    schemaless_writer(out, schemas.parsed_schema(SCHEMA), value)
    return out.getvalue()


def hop(source: str, target: str, group: str, stop: threading.Event, transform: Transform = raw) -> None:
    """Copy every record of ``source`` to ``target`` through ``transform`` in batches of 500, committing after each flush."""
    settings = get_settings()
    consumer = Consumer(consumer_config(settings, group))
    producer = Producer(producer_config(settings))
    consumer.subscribe([source])
    try:
        while not stop.is_set():
            messages = consumer.consume(500, 0.1)
            good = [m for m in messages if m.error() is None]
            if not good:
                continue
            for message in good:
                value = transform(message.value())
                while True:
                    try:
                        producer.produce(target, value=value, key=message.key())
                        break
                    except BufferError:
                        producer.poll(0.05)
            producer.flush()
            done = {(m.topic(), m.partition()): m.offset() + 1 for m in good}
            try:
                consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in done.items()], asynchronous=False)
            except KafkaException as failed:  # a coordinator still loading after a broker restart: the next commit covers it
                print(f"commit failed, carrying on (at-least-once): {failed}", file=sys.stderr, flush=True)
    finally:
        consumer.close()


def main() -> None:
    source, target, group = sys.argv[1:4]
    mode = sys.argv[4] if len(sys.argv) > 4 else "raw"
    transform = {"raw": lambda: raw, "fastavro": fastavro_hop}[mode]()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    hop(source, target, group, stop, transform)


if __name__ == "__main__":
    main()
