"""A raw confluent-kafka hop (bytes in, bytes out, at-least-once): the baseline ``courrier bench chain`` compares against.

Run as ``python -m courrier.passthrough SOURCE TARGET GROUP``; it stops on SIGTERM.
"""
from __future__ import annotations

import signal
import sys
import threading

from confluent_kafka import Consumer, Producer, TopicPartition

from courrier.config import get_settings
from processors.runtime.clients import consumer_config, producer_config


def hop(source: str, target: str, group: str, stop: threading.Event) -> None:
    """Copy every record of ``source`` to ``target`` in batches of 500, committing after each flush."""
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
                while True:
                    try:
                        producer.produce(target, value=message.value(), key=message.key())
                        break
                    except BufferError:
                        producer.poll(0.05)
            producer.flush()
            done = {(m.topic(), m.partition()): m.offset() + 1 for m in good}
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in done.items()], asynchronous=False)
    finally:
        consumer.close()


def main() -> None:
    source, target, group = sys.argv[1:4]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    hop(source, target, group, stop)


if __name__ == "__main__":
    main()
