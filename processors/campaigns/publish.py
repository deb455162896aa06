"""Sending a campaign: the ACTIVE record first, then the audience row by row into ``send-requested``, watching for a cancel.

Memory stays flat whatever the audience size: rows are read as a stream, and the producer's local
queue is capped (``produce`` waits for room), so at most ``QUEUE_MAX_MESSAGES`` records are in
memory at once. A CANCELLED record for the campaign, seen in the ``campaigns`` table (checked every
``check_every_s``), stops the loop and withdraws what is still queued locally; what already reached
the broker is stopped by dispatch, which reads the same record before each submit.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from common.config import Settings
from common.errors import UnreachableError
from common.kafka_clients import producer_config
from processors.campaigns.audience import Audience
from processors.campaigns.control import CampaignError
from processors.campaigns.logic import CampaignSpec, RowEvent, control_record, row_event
from processors.campaigns.saved import dump
from processors.runtime.publisher import write_now
from processors.runtime.serde import AvroSerde
from topology.topics import lane_topic
from processors.runtime.table import TopicTable

QUEUE_MAX_MESSAGES = 20_000
QUEUE_MAX_KBYTES = 16 * 1024
PROGRESS_EVERY_S = 0.1
FLUSH_TIMEOUT_S = 60.0


@dataclass
class SendReport:
    """What one ``campaign send`` did: rows read, records acknowledged, failed or withdrawn, and what looked wrong."""

    campaign_id: str
    rows: int = 0
    outside_sample: int = 0  # rows a rollout step leaves for another step (``rollout``)
    delivered: int = 0
    failed: int = 0
    withdrawn: int = 0
    malformed_rows: int = 0
    problem_rows: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    variants: Counter[str] = field(default_factory=Counter)
    outcome: str = "completed"
    seconds: float = 0.0
    first_error: str | None = None

    def count(self, event: RowEvent) -> None:
        """Account for one row produced."""
        self.rows += 1
        if event.problems:
            self.problem_rows += 1
            self.problems.update(event.problems)
        if event.variant is not None:
            self.variants[event.variant] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id, "outcome": self.outcome, "rows": self.rows, "outside_sample": self.outside_sample,
            "delivered": self.delivered,
            "failed": self.failed, "withdrawn": self.withdrawn, "rows_with_problems": self.problem_rows,
            "malformed_rows": self.malformed_rows, "problems": dict(self.problems), "variants": dict(self.variants),
            "seconds": round(self.seconds, 3), "rows_per_s": round(self.rows / self.seconds, 1) if self.seconds else None,
            "first_error": self.first_error,
        }


class _Deliveries:
    """Counts the producer's delivery reports; a report for a record withdrawn after a cancel is not a failure."""

    def __init__(self, report: SendReport) -> None:
        self._report = report

    def __call__(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self._report.delivered += 1
        elif error.code() == KafkaError._PURGE_QUEUE:
            self._report.withdrawn += 1
        else:
            self._report.failed += 1
            self._report.first_error = self._report.first_error or str(error)


class CampaignSend:
    """One run of ``campaign send``: ``start`` writes the campaign ACTIVE, ``stream`` sends the rows, ``close`` lets go."""

    def __init__(self, settings: Settings, spec: CampaignSpec) -> None:
        self._settings = settings
        self._spec = spec
        self._requests = lane_topic("send-requested", {"context": {"lane": spec.lane}})  # the campaign's lane's topic
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._table = TopicTable(settings, "campaigns", self._serde)
        self._table_started = False
        self._producer = Producer(producer_config(settings, **{
            "client.id": "courrier-campaign", "linger.ms": 20,
            "queue.buffering.max.messages": QUEUE_MAX_MESSAGES, "queue.buffering.max.kbytes": QUEUE_MAX_KBYTES,
        }))

    def start(self, audience_name: str, changed_by: str | None = None) -> None:
        """Write the campaign ACTIVE (acknowledged); ``CampaignError`` when this id was cancelled before.

        A rollout step records the share sent before it (0 for the first): the step's own share is recorded by
        ``completed`` only once every row of it is on the broker, so a step cut short is run again, not skipped."""
        spec = self._spec
        self._require_topics(("campaigns", self._requests))
        self._serde.prepare(("campaigns", self._requests))
        self._table.start()
        self._table_started = True
        earlier = self._table.get(spec.campaign_id)
        if earlier is not None and earlier["state"] == "CANCELLED":
            raise CampaignError(f"campaign {spec.campaign_id!r} was cancelled at {earlier['changed_at'].isoformat()}; "
                                "send under another --campaign-id")
        self._write_active(audience_name, changed_by, spec.sample.low if spec.sample else None)

    def completed(self, audience_name: str, changed_by: str | None = None) -> None:
        """Record that the rollout step's whole slice was sent (its ``rollout_percent``); nothing for a whole-audience send."""
        if self._spec.sample is not None:
            self._write_active(audience_name, changed_by, self._spec.sample.high)

    def _write_active(self, audience_name: str, changed_by: str | None, rollout_percent: float | None) -> None:
        spec = self._spec
        write_now(self._settings, [control_record(
            spec.campaign_id, "ACTIVE", datetime.now(timezone.utc), template_id=spec.template_id, audience=audience_name,
            variants=spec.variants.weights() if spec.variants else {}, changed_by=changed_by, rollout_percent=rollout_percent,
            spec=dump(spec))], producer=self._producer, serde=self._serde)

    def stream(self, audience: Audience, *, rate: float | None = None, check_every_s: float = 1.0,
               on_progress: Callable[[SendReport, int], None] | None = None) -> SendReport:
        """One ``send-requested`` per row, at most ``rate`` a second; stops early on a cancel (outcome ``cancelled``), Ctrl-C
        (``interrupted``, after flushing what was produced) or a record the client refuses (``failed``)."""
        spec, producer, report = self._spec, self._producer, SendReport(self._spec.campaign_id)
        topic = self._settings.topic(self._requests)
        delivered = _Deliveries(report)
        started = time.monotonic()
        next_check, next_progress = started + check_every_s, started
        try:
            for index, row in enumerate(audience.rows()):
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + check_every_s
                    if self.cancelled():
                        report.outcome = "cancelled"
                        # Only what is not sent yet: a request already on the wire is let finish and counted as delivered
                        # or failed (purging it too would report it failed, PURGE_INFLIGHT, though the broker may have it).
                        producer.purge(in_queue=True, in_flight=False)
                        break
                if rate is not None and started + report.rows / rate > now:
                    time.sleep(started + report.rows / rate - now)
                event = row_event(spec, row, index, datetime.now(timezone.utc))
                if event is None:
                    report.outside_sample += 1
                    continue
                value = self._serde.encode(self._requests, event.output.value)
                while True:
                    try:
                        producer.produce(topic, key=event.output.key, value=value, on_delivery=delivered)
                        break
                    except BufferError:  # the capped local queue is full: serve delivery reports until there is room
                        producer.poll(0.05)
                report.count(event)
                if now >= next_progress:
                    next_progress = now + PROGRESS_EVERY_S
                    producer.poll(0)
                    if on_progress is not None:
                        on_progress(report, audience.position)
        except KeyboardInterrupt:
            report.outcome = "interrupted"
        except KafkaException as exc:  # the client refused the record itself (e.g. the topic is gone): nothing more can go
            report.outcome = "failed"
            report.first_error = report.first_error or str(exc.args[0] if exc.args else exc)
        finally:
            unconfirmed = producer.flush(FLUSH_TIMEOUT_S)
            if unconfirmed:
                report.failed += unconfirmed
                report.first_error = report.first_error or f"{unconfirmed} records not acknowledged within {FLUSH_TIMEOUT_S:.0f}s"
            report.malformed_rows = audience.malformed_rows
            report.seconds = time.monotonic() - started
            if on_progress is not None:
                on_progress(report, audience.position)
        return report

    def _require_topics(self, logical_topics: tuple[str, ...]) -> None:
        """A missing topic would only show as a produce timeout much later: name it now, with the command that creates it."""
        for logical in logical_topics:
            physical = self._settings.topic(logical)
            found = self._producer.list_topics(physical, timeout=10).topics.get(physical)
            if found is None or found.error is not None:
                raise UnreachableError(f"topic {physical} does not exist on {self._settings.bootstrap_servers}; "
                                       "run `courrier topology apply`")

    def cancelled(self) -> bool:
        """Whether the ``campaigns`` table says this campaign is CANCELLED now."""
        state = self._table.get(self._spec.campaign_id)
        return state is not None and state["state"] == "CANCELLED"

    def close(self) -> None:
        if self._table_started:
            self._table.stop()
