"""What a report reads: a campaign's (or a time range's transactional) requests and receipts, folded into an
``Aggregator`` as they stream by, each through one bounded ``TopicScan``.

Requests come from ``send-requested`` (the arm's policy, the template); receipts do not carry the template, so a
transactional report by template knows a message's template only while its request is still on ``send-requested``
(7 days by default) — receipts of older messages are counted under ``UNKNOWN_TEMPLATE``, or left out when one
template is asked for.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from datetime import datetime
from typing import Any

from common.config import Settings
from processors.analytics.aggregate import Aggregator, Summary
from processors.analytics.scan import TopicScan
from processors.runtime.serde import AvroSerde
from processors.rules.test_sends import is_test
from topology.topics import TRANSACTIONAL_LANE

NO_VARIANT = "(no variant)"
UNKNOWN_TEMPLATE = "(template unknown)"
TRANSACTIONAL = "TRANSACTIONAL"


@dataclass(frozen=True)
class Collected:
    """The aggregated figures, each arm's channel policy when its requests were read, how many records of the report
    were found at all, and whether both scans got to the end of their topic."""

    summary: Summary
    policies: dict[str, str]
    found: int
    complete: bool


def request_scans(settings: Settings, **scan: Any) -> list[TopicScan]:
    """Scans of the requests of both lanes: ``send-requested`` and the transactional lane's own topic (a transactional
    request written to ``send-requested``, before the lanes split or by an app producing there, is found too)."""
    return [TopicScan(settings, name, **scan) for name in ("send-requested", TRANSACTIONAL_LANE["send-requested"])]


def campaign(settings: Settings, campaign_id: str, max_records: int, timeout_s: float) -> Collected:
    """Every request and receipt of ``campaign_id``, by A/B variant."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    needle = campaign_id.encode()  # Avro writes the id's UTF-8 bytes: records without them are not decoded
    aggregator, policies, found = Aggregator(), {}, 0
    scans = request_scans(settings, needle=needle, max_records=max_records, timeout_s=timeout_s, serde=serde)
    for request in chain(*scans):
        context = request["context"]
        if context.get("campaign_id") == campaign_id:
            arm = context.get("variant") or NO_VARIANT
            aggregator.add_request(context["message_id"], arm)
            policies.setdefault(arm, request["channel_policy"])
            found += 1
    receipts = TopicScan(settings, "receipt", needle=needle, max_records=max_records, timeout_s=timeout_s, serde=serde)
    for receipt in receipts:
        context = receipt["context"]
        if context.get("campaign_id") == campaign_id:
            aggregator.add_receipt(receipt, context.get("variant") or NO_VARIANT)
            found += 1
    return Collected(aggregator.summary(), policies, found, all(scan.complete for scan in scans) and receipts.complete)


def transactional(settings: Settings, since: datetime, until: datetime, template: str | None, max_records: int,
                  timeout_s: float) -> Collected:
    """The transactional lane's messages requested in [``since``, ``until``), by template (only ``template`` if given)."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    aggregator, templates, found = Aggregator(), {}, 0

    def in_range(context: dict) -> bool:  # test sends (rules.test_sends) go on the transactional lane: never counted
        return context["lane"] == TRANSACTIONAL and since <= context["requested_at"] < until and not is_test(context)

    scans = request_scans(settings, since=since, max_records=max_records, timeout_s=timeout_s, serde=serde)
    for request in chain(*scans):
        context = request["context"]
        if in_range(context) and (template is None or request["template_id"] == template):
            templates[context["message_id"]] = request["template_id"]
            aggregator.add_request(context["message_id"], request["template_id"])
            found += 1
    receipts = TopicScan(settings, "receipt", since=since, max_records=max_records, timeout_s=timeout_s, serde=serde)
    for receipt in receipts:
        context = receipt["context"]
        arm = templates.get(context["message_id"]) or (None if template else UNKNOWN_TEMPLATE)
        if arm is not None and in_range(context):
            aggregator.add_receipt(receipt, arm)
            found += 1
    return Collected(aggregator.summary(), {}, found, all(scan.complete for scan in scans) and receipts.complete)
