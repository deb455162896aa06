"""What ``courrier bench otp`` measures with, in both its modes (dispatch alone, the whole chain): the campaign's
short codes, the reader that stamps each ``dispatched`` record as it arrives, and the figure a run gives."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common.config import Settings

CAMPAIGN_SENDERS = 36180  # the first campaign short code; the others follow it
SHORT_CODE_RATE = 100.0  # segments/s each campaign sender's record claims (the pacing file may grant less)


@dataclass(frozen=True)
class OtpFigure:
    """One measured run: the topic OTPs were published to (``origin``) and what they went through (``mode``), the
    campaign's drain, OTP latencies in seconds, and the topic prefix the run created (and removed)."""

    mode: str
    origin: str
    campaign: int
    drain_s: float
    latencies: list[float]
    prefix: str
    hops: dict[str, list[float]] = field(default_factory=dict)  # per hop of the chain: each OTP's seconds (bench_otp_chain)

    @property
    def submit_rate(self) -> float:
        return self.campaign / self.drain_s if self.drain_s else 0.0

    def percentile(self, p: float) -> float:
        """The latency ``p`` % of OTPs took at most (nearest rank); NaN without any."""
        return percentile(self.latencies, p)


def percentile(values: list[float], p: float) -> float:
    """The value ``p`` % of ``values`` are at most (nearest rank); NaN without any."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


class Dispatched:
    """When each message's ``dispatched`` record reached this bench (read from the topic's end at creation), by message id."""

    def __init__(self, run: Settings) -> None:
        from confluent_kafka import Consumer

        from common.kafka_clients import assign_at_end, consumer_config
        from processors.runtime.serde import AvroSerde

        self._consumer = Consumer(consumer_config(run, f"{run.topic_prefix}end"))
        assign_at_end(self._consumer, [run.topic("dispatched")])
        self._serde = AvroSerde(run.registry_url, run.topic)
        self._prefix = run.topic_prefix
        self.at: dict[str, float] = {}

    def close(self) -> None:
        self._consumer.close()

    def poll(self, timeout_s: float) -> None:
        """Read for ``timeout_s``, stamping each record when it arrives (a batch that waited to fill would stamp late)."""
        from processors.runtime.runner import next_batch

        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            for message in next_batch(self._consumer.consume, 1000, left, eager=True):
                if message.error() is None:
                    self.at[self._serde.decode("dispatched", message.value())["context"]["message_id"]] = time.time()

    def warm_up(self, message_ids: list[str], timeout_s: float, log_dir: Path) -> None:
        """Wait until these messages were dispatched; ``TimeoutError`` naming the stages' logs otherwise."""
        deadline = time.monotonic() + timeout_s
        while not set(message_ids) <= set(self.at) and time.monotonic() < deadline:
            self.poll(0.1)
        missing = [m for m in message_ids if m not in self.at]
        if missing:
            raise TimeoutError(f"{', '.join(missing)} not dispatched within {timeout_s:.0f} s; see {log_dir}")

    def otps_while_draining(self, send_otp: Callable[[int], str], campaign_ids: list[str], otps: int, interval_s: float,
                            timeout_s: float) -> dict[str, float]:
        """Send OTPs one every ``interval_s`` (``send_otp(i)`` publishes the i-th and returns its id) until ``otps`` are sent
        or the campaign is all dispatched, then wait up to ``timeout_s`` for every message; when each OTP was sent, by id."""
        sent: dict[str, float] = {}
        while len(sent) < otps and sum(1 for m in campaign_ids if m in self.at) < len(campaign_ids):
            before = time.time()  # just before the OTP is produced
            sent[send_otp(len(sent))] = before
            self.poll(interval_s)
        deadline = time.monotonic() + timeout_s
        while not (set(sent) | set(campaign_ids)) <= set(self.at) and time.monotonic() < deadline:
            self.poll(0.1)
        return sent

    def figure(self, mode: str, origin: str, campaign_ids: list[str], sent: dict[str, float]) -> OtpFigure:
        """The run's figure: the campaign's drain between its first and last dispatched record, each OTP's latency."""
        campaign_times = [self.at[m] for m in campaign_ids if m in self.at]
        drain = max(campaign_times) - min(campaign_times) if campaign_times else 0.0
        return OtpFigure(mode, origin, len(campaign_times), drain, [self.at[m] - t for m, t in sent.items() if m in self.at],
                         self._prefix)


def campaign_sender(index: int) -> dict:
    """The ``index``-th campaign short code."""
    return {"sender_id": str(CAMPAIGN_SENDERS + index), "type": "SHORT_CODE", "country": "FR", "segments_per_second": SHORT_CODE_RATE}
